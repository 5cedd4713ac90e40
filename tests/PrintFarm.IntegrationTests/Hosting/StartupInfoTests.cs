using System.Diagnostics;
using System.Globalization;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Hosting;

/// <summary>The real worker executable: <c>--help</c> explains instead of starting; the banner says what is in force.</summary>
public sealed class StartupInfoTests
{
    [Fact]
    public async Task Help_prints_usage_and_the_main_settings_and_exits_without_starting()
    {
        using var process = Start("--help");
        var (output, code) = await FinishAsync(process);

        Assert.Equal(0, code);
        Assert.Contains("usage: PrintFarm.Worker", output, StringComparison.Ordinal);

        // Every command and switch the worker takes, each on its own usage line.
        var usage = output.Split('\n').Where(l => l.TrimStart().StartsWith("PrintFarm.Worker", StringComparison.Ordinal) || l.StartsWith("usage:", StringComparison.Ordinal)).ToList();
        foreach (var command in new[] { "--check-config", "--accept-checkpoint-loss", "kpis", "--help" })
        {
            Assert.Contains(usage, l => l.Contains($"PrintFarm.Worker {command}", StringComparison.Ordinal));
        }

        Assert.Contains("./build.sh setup", output, StringComparison.Ordinal);
        Assert.Contains("PrintFarm__Mqtt__EmbeddedBroker__Enabled", output, StringComparison.Ordinal);
        Assert.Contains("docs/operations.md", output, StringComparison.Ordinal);
        Assert.DoesNotContain("MQTT", output.Split('\n').Where(l => l.Contains("INF", StringComparison.Ordinal)).FirstOrDefault() ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_banner_names_the_embedded_broker_the_database_the_farm_and_the_default_data_folder_outside_the_source_tree()
    {
        var state = ServerProcess.NewFolder("xdg-state");
        var port = ServerProcess.FreePort();
        using var process = Start(null, new()
        {
            ["XDG_STATE_HOME"] = state,
            ["PrintFarm__Farm"] = "banner-farm",
            ["PrintFarm__Mqtt__EmbeddedBroker__Enabled"] = "true",
            ["PrintFarm__Mqtt__EmbeddedBroker__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["PrintFarm__Influx__Url"] = "http://banner-user:s3cret-in-url@127.0.0.1:9",
        });
        try
        {
            string? banner = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (banner is null && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Contains("PrintFarm Telemetry ", StringComparison.Ordinal))
                {
                    banner = line;
                }
            }

            Assert.NotNull(banner);
            Assert.Contains($"broker embedded on port {port}", banner, StringComparison.Ordinal);
            Assert.Contains("database http://***@127.0.0.1:9 (API from /ping: v1 database printfarm, or v2 bucket printfarm", banner, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret-in-url", banner, StringComparison.Ordinal);
            Assert.Contains("farm 'banner-farm'", banner, StringComparison.Ordinal);
            Assert.Contains("windows 1h,1d", banner, StringComparison.Ordinal);
            Assert.Contains($"data folder {Path.Combine(state, "printfarm")}", banner, StringComparison.Ordinal);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task An_embedded_broker_user_without_a_password_is_refused_at_start()
    {
        using var process = Start(null, new()
        {
            ["PrintFarm__DataFolder"] = ServerProcess.NewFolder("bad-broker"),
            ["PrintFarm__Mqtt__EmbeddedBroker__Enabled"] = "true",
            ["PrintFarm__Mqtt__EmbeddedBroker__Username"] = "printer",
        });
        var (output, code) = await FinishAsync(process);

        Assert.Equal(2, code);
        Assert.Contains("PrintFarm:Mqtt:EmbeddedBroker:Username is 'printer': and Mqtt:EmbeddedBroker:Password must be set together", output, StringComparison.Ordinal);
    }

    private static Process Start(string? argument, Dictionary<string, string>? environment = null) =>
        Process.Start(WorkerCommand.StartInfo(environment, argument is null ? [] : [argument]))!;

    private static async Task<(string Output, int Code)> FinishAsync(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (await stdout + await stderr, process.ExitCode);
    }
}
