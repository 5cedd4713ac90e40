using System.Text.RegularExpressions;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// docs/grafana.md's opening counts stay true (issue 19: the docs said four measurements and sixteen rules while the
/// worker wrote five and Grafana had eighteen): the measurements it names are the ones data-model.md documents, and
/// its rule count is the number of rules provisioned.
/// </summary>
public sealed partial class GrafanaDocsTests
{
    private static readonly string[] Numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"];

    private static string Opening() => File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "docs", "grafana.md")).Split("\n\n")[1];

    [Fact]
    public void The_opening_names_every_measurement_data_model_md_documents_and_counts_them()
    {
        var dataModel = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "docs", "data-model.md"));
        var documented = MeasurementHeading().Matches(dataModel).Select(m => m.Groups[1].Value).ToList();
        var opening = Opening();

        Assert.NotEmpty(documented);
        Assert.All(documented, m => Assert.Contains($"`{m}`", opening, StringComparison.Ordinal));
        Assert.Contains($"writes {Numbers[documented.Count]} measurements", opening.ReplaceLineEndings(" "), StringComparison.Ordinal);
    }

    [Fact]
    public void The_opening_counts_the_provisioned_alert_rules()
    {
        var rules = GrafanaFiles.AlertRules();

        Assert.Contains($"one dashboard and {Numbers[rules.Count]} alert rules", Opening().ReplaceLineEndings(" "), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^### `(\w+)` — ", RegexOptions.Multiline)]
    private static partial Regex MeasurementHeading();
}
