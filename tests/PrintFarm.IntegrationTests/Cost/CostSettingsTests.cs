using System.Diagnostics;

namespace PrintFarm.IntegrationTests.Cost;

/// <summary>The real worker, started with bad energy and cost settings: it refuses to start and names each key.</summary>
public sealed class CostSettingsTests
{
    [Fact]
    public async Task Unknown_printers_duplicate_plugs_and_bad_prices_stop_the_worker_with_one_line_naming_each_key()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PrintFarm.Worker.dll"));
        info.Environment["PrintFarm__DataFolder"] = Support.ServerProcess.NewFolder("bad-cost-settings");
        info.Environment["PrintFarm__Guards__AllowedPrinters__0"] = "p1";
        info.Environment["PrintFarm__Guards__AllowedPrinters__1"] = "p2";
        info.Environment["PrintFarm__Energy__Plugs__plugA__Printer"] = "p9";
        info.Environment["PrintFarm__Energy__Plugs__plugB__Printer"] = "p1";
        info.Environment["PrintFarm__Energy__Plugs__plugC__Printer"] = "p2";
        info.Environment["PrintFarm__Energy__Plugs__plugC__Topic"] = "tele/plugB/SENSOR";
        info.Environment["PrintFarm__Cost__EnergyPerKwh"] = "-0.3";
        info.Environment["PrintFarm__Cost__LabourPerPlate"] = "NaN";

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;

        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single(output.Split('\n'), l => l.Contains("Invalid configuration", StringComparison.Ordinal));
        Assert.Contains("PrintFarm:Energy:Plugs:plugA:Printer is 'p9': not a known printer", line, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Energy:Plugs:plugC:Topic is 'tele/plugB/SENSOR': plug 'plugB' already uses it", line, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Cost:EnergyPerKwh is '-0.3'", line, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Cost:LabourPerPlate is 'NaN'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }
}
