using System.Diagnostics;

namespace PrintFarm.IntegrationTests.Configuration;

/// <summary>The real worker executable, started with bad settings: it must refuse to start, say which keys are wrong, and exit 2.</summary>
public sealed class StartupValidationTests
{
    [Fact]
    public async Task The_worker_refuses_bad_settings_with_one_line_naming_each_key_and_exit_code_2()
    {
        var worker = Path.Combine(AppContext.BaseDirectory, "PrintFarm.Worker.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(worker);
        info.Environment["PrintFarm__Influx__ApiVersion"] = "v3";
        info.Environment["PrintFarm__Windows__0"] = "7m";
        info.Environment["PrintFarm__Mqtt__Port"] = "70000";
        info.Environment["PrintFarm__DataFolder"] = Support.ServerProcess.NewFolder("bad-settings");

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;

        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single(output.Split('\n'), l => l.Contains("Invalid configuration", StringComparison.Ordinal));
        Assert.Contains("PrintFarm:Influx:ApiVersion is 'v3': must be auto, v1 or v2", line, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Windows:0 is '7m'", line, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Mqtt:Port is '70000'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal); // a message, not a stack trace
    }
}
