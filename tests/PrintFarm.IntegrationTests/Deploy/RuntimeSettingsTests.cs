using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;

namespace PrintFarm.IntegrationTests.Deploy;

/// <summary>
/// The .NET runtime settings the worker is measured with (deploy/worker/runtime.env) are the ones every way of
/// installing it applies: the systemd unit reads the file published beside the worker, the image repeats it as ENV.
/// </summary>
public sealed partial class RuntimeSettingsTests
{
    private static string Deploy(params string[] parts) => Path.Combine([GrafanaFiles.RepoRoot, "deploy", .. parts]);

    [Fact]
    public void The_image_sets_exactly_the_runtime_settings_of_runtime_env()
    {
        var file = File.ReadLines(Deploy("worker", "runtime.env"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
        Assert.Contains("DOTNET_GCgen0size", file.Keys);

        var image = DotnetEnv().Matches(File.ReadAllText(Deploy("worker", "Dockerfile")))
            .ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
        Assert.Equal(file.OrderBy(kv => kv.Key, StringComparer.Ordinal), image.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void The_systemd_unit_reads_runtime_env_from_where_it_is_published()
    {
        var unit = File.ReadAllText(Deploy("systemd", "printfarm-telemetry.service"));
        var workingDirectory = Regex.Match(unit, @"^WorkingDirectory=(.+)$", RegexOptions.Multiline).Groups[1].Value.Trim();
        Assert.Contains($"EnvironmentFile={workingDirectory}/runtime.env", unit, StringComparison.Ordinal);

        // Published beside the worker: the build copies it to the output folder (this test project's too, through
        // its reference to the worker).
        Assert.Equal(File.ReadAllText(Deploy("worker", "runtime.env")), File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "runtime.env")));
    }

    // DOTNET_* settings in the Dockerfile's ENV instructions (DOTNET_ENVIRONMENT is the host's, not the runtime's).
    [GeneratedRegex(@"(?<key>DOTNET_(?!ENVIRONMENT)\w+)=(?<value>\S+)")]
    private static partial Regex DotnetEnv();
}
