using PrintFarm.Worker.Reporting;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>The shared KPI table (demo and <c>kpis</c>): CSV that a spreadsheet reads back, and plain text into a pipe.</summary>
public sealed class KpiTableTests
{
    private static readonly DateTimeOffset Start = new(2026, 9, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Csv_quotes_a_subject_with_a_comma_or_quote_and_leaves_absent_figures_empty()
    {
        var point = new LinePoint("kpi", new() { ["scope"] = "toy", ["toy"] = "dragon, \"big\"" }, new() { ["toys_completed"] = 4.0, ["material_efficiency"] = 0.125 }, Start.ToUnixTimeMilliseconds());
        using var csv = new StringWriter();

        KpiTable.WriteCsv(csv, [new KpiRow("1d", Start, "dragon, \"big\"", point)]);

        var lines = csv.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(KpiTable.Fields.Count + 4, lines[0].Split(',').Length);
        Assert.Equal("1d,2026-09-01T08:00:00Z,toy,\"dragon, \"\"big\"\"\",0,0,0,4,0,,,,,0.125,,,,,,,", lines[1]);
    }

    [Fact]
    public void Into_a_pipe_the_table_has_no_escape_codes_and_one_line_per_row()
    {
        var point = new LinePoint("kpi", new() { ["scope"] = "farm" }, new() { ["toys_completed"] = 12.0, ["avg_print_time_per_toy_s"] = 9000.0, ["material_efficiency"] = 0.95, ["success_rate"] = 1.0, ["jobs_completed"] = 3.0 }, 0);
        using var text = new StringWriter();

        KpiTable.Write(text, KpiTable.Build("Farm KPIs", [new KpiRow("1h", Start, string.Empty, point)], extra: ("ground truth", _ => "[green]match[/]")), terminal: false);

        var output = text.ToString();
        Assert.DoesNotContain("\u001b", output, StringComparison.Ordinal);
        var row = Assert.Single(output.Split('\n'), l => l.StartsWith("│ 1h", StringComparison.Ordinal));
        Assert.Equal(["1h", "2026-09-01 08:00", "12", "2h30m typical", "95.0 % exceptional", "100 %", "3/0/0", "match"], row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void The_efficiency_cell_says_how_many_jobs_without_filament_data_it_leaves_out()
    {
        // One completed job without a filament figure and one failed job with one: 0 % rests on the failed job alone.
        var point = new LinePoint("kpi", new() { ["scope"] = "farm" }, new() { ["material_efficiency"] = 0.0, ["jobs_completed"] = 1.0, ["jobs_failed"] = 1.0, ["jobs_without_filament"] = 1.0, ["toys_completed"] = 1.0 }, 0);
        var onlyUnknown = new LinePoint("kpi", new() { ["scope"] = "farm" }, new() { ["jobs_cancelled"] = 2.0, ["jobs_without_filament"] = 2.0 }, 0);
        var known = new LinePoint("kpi", new() { ["scope"] = "farm" }, new() { ["material_efficiency"] = 0.95, ["jobs_completed"] = 3.0, ["jobs_without_filament"] = 0.0 }, 0);
        using var text = new StringWriter();

        KpiTable.Write(text, KpiTable.Build("Farm KPIs", [new KpiRow("1h", Start, string.Empty, point), new KpiRow("1h", Start.AddHours(1), string.Empty, onlyUnknown), new KpiRow("1h", Start.AddHours(2), string.Empty, known)]), terminal: false);

        var rows = text.ToString().Split('\n').Where(l => l.StartsWith("│ 1h", StringComparison.Ordinal)).Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal("0.0 % poor (1 job without filament data left out)", rows[0][4]);
        Assert.Equal("1/1/0", rows[0][6]);
        Assert.Equal("- (2 jobs without filament data left out)", rows[1][4]);
        Assert.Equal("95.0 % exceptional", rows[2][4]);
    }
}
