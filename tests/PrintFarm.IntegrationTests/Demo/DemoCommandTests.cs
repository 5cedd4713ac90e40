using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;

namespace PrintFarm.IntegrationTests.Demo;

/// <summary>
/// The demo command, run for a bounded time with its output piped (not a terminal): it prints plain lines and a final
/// KPI table whose farm values equal the ground truth of the same simulation, recomputed here from seed and start.
/// </summary>
public sealed partial class DemoCommandTests
{
    [Fact]
    public async Task The_demo_run_for_a_bounded_time_prints_farm_kpis_equal_to_the_ground_truth()
    {
        var data = ServerProcess.NewFolder("demo-data");
        await RunAndCheckAsync(data);
    }

    // Issue 19: the second run replayed the first run's journal (jobs counted twice, windows before its start) and
    // still exited 0. Each run starts from clean state, and a run whose table differs from the ground truth fails.
    [Fact]
    public async Task A_second_demo_run_in_the_same_data_folder_again_equals_the_ground_truth()
    {
        var data = ServerProcess.NewFolder("demo-data");
        await RunAndCheckAsync(data);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(data, "journal")));
        await RunAndCheckAsync(data);
    }

    private static async Task RunAndCheckAsync(string data)
    {
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "PrintFarm.Demo.dll"), "--for", "20s", "--speed", "900", "--seed", "9", "--port", port.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["PrintFarm__DataFolder"] = data;
        start.Environment.Remove("PrintFarm__Influx__Url");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            await process.WaitForExitAsync(timeout.Token);
        }

        var output = await stdout;
        Assert.True(process.ExitCode == 0, output + await stderr);

        // Said at start: where the data goes, with no InfluxDB configured.
        Assert.Contains($"Writing to line protocol file {Path.Combine(data, "influx")}", output, StringComparison.Ordinal);
        Assert.Contains($"Embedded MQTT broker on port {port}", output, StringComparison.Ordinal);
        Assert.Matches(PlainLine(), output);

        var summary = Summary().Match(output);
        Assert.True(summary.Success, output);
        var simulatedStart = DateTimeOffset.Parse(summary.Groups["from"].Value, CultureInfo.InvariantCulture);
        var until = DateTimeOffset.Parse(summary.Groups["until"].Value, CultureInfo.InvariantCulture);
        Assert.True(until - simulatedStart >= TimeSpan.FromHours(2), $"only simulated until {until:O}");

        // The same simulation, here: its ground truth up to the second the demo reached.
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 12,
            Seed = 9,
            Start = simulatedStart,
            Duration = null,
            Scenario = Scenario.EfficiencyDrop,
            DropAfter = PrintFarm.Demo.DemoOptions.Parse([]).DropAfter, // the demo's default
            Orders = true, // the demo's farm prints for orders
        });
        foreach (var _ in simulation.Messages().TakeWhile(m => m.Time <= until))
        {
        }

        var finals = Final().Matches(output);
        Assert.True(finals.Count >= 3, output);
        var jobs = 0L;
        var startedToys = 0L;
        foreach (Match f in finals)
        {
            var window = WindowSpec.Parse(f.Groups["window"].Value);
            var windowStart = DateTimeOffset.Parse(f.Groups["start"].Value, CultureInfo.InvariantCulture);
            var truth = simulation.Truth.Totals(window, windowStart, until: until.AddSeconds(1));
            var what = f.Value;
            Assert.Equal(truth.JobsCompleted, Long(f, "jobs_completed"));
            Assert.Equal(truth.JobsFailed, Long(f, "jobs_failed"));
            Assert.Equal(truth.JobsCancelled, Long(f, "jobs_cancelled"));
            Assert.Equal(truth.ToysCompleted, Long(f, "toys_completed"));
            Assert.Equal(truth.JobsWithoutFilament, Long(f, "jobs_without_filament"));
            Close(truth.PrintTimeSeconds, Number(f, "print_time_s"), what);
            Close(truth.FilamentUsedGrams, Number(f, "filament_used_g"), what);
            Close(truth.FilamentWasteGrams, Number(f, "filament_waste_g"), what);

            // OEE's job-derived parts, on the same kpi point (the timeline writes them as a second point, merged).
            var oee = simulation.OeeTruth.Counts(window, windowStart, until: until.AddSeconds(1));
            Assert.Equal(oee.ToysStarted, Long(f, "toys_started"));
            Close(oee.Quality ?? 0, Number(f, "quality"), what);
            Close(oee.Performance ?? 0, Number(f, "performance"), what);
            startedToys += window.Name == "1d" ? oee.ToysStarted : 0;
            if (window.Name == "1d")
            {
                jobs += truth.JobsEnded;
            }
        }

        Assert.True(jobs >= 3, $"only {jobs} jobs ended in the demo run");
        Assert.True(startedToys > 0, "no toy counted for quality in the demo run");
        // The orders the worker completed, per window, are the simulator's order truth; the day has some.
        var orderFinals = FinalOrders().Matches(output);
        var dayOrders = 0L;
        foreach (Match f in orderFinals)
        {
            var window = WindowSpec.Parse(f.Groups["window"].Value);
            var windowStart = DateTimeOffset.Parse(f.Groups["start"].Value, CultureInfo.InvariantCulture);
            var truth = simulation.OrdersTruth.Totals(window, windowStart, until.AddSeconds(1));
            Assert.Equal(truth.OrdersCompleted, Long(f, "orders_completed"));
            Assert.Equal(truth.OrdersOnTime, Long(f, "orders_on_time"));
            Assert.Equal(truth.Toys, Long(f, "toys"));
            Close(truth.PrintSeconds, Number(f, "print_time_s"), f.Value);
            Close(truth.OnTimeRate ?? 0, Number(f, "on_time_rate"), f.Value);
            dayOrders += window.Name == "1d" ? truth.OrdersCompleted : 0;
        }

        Assert.True(dayOrders >= 1, "no order completed in the demo run:\n" + output);
        Assert.Matches(@"\| orders today \d+ completed, ", output);
        Assert.DoesNotContain("differs", output, StringComparison.Ordinal);
        var lineFile = Directory.GetFiles(Path.Combine(data, "influx"), "demo-*.lp").OrderBy(f => File.GetLastWriteTimeUtc(f)).Last();
        Assert.Contains(File.ReadLines(lineFile), l => l.StartsWith("kpi,farm=demo,scope=farm,window=1h ", StringComparison.Ordinal));
    }

    private static long Long(Match m, string field) => (long)Number(m, field);

    private static double Number(Match m, string field)
    {
        var v = Regex.Match(m.Value, $@"\b{field}=(\S+)").Groups[1].Value;
        return v == "-" ? 0 : double.Parse(v, CultureInfo.InvariantCulture);
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"{actual} expected {expected}: {what}");

    [GeneratedRegex(@"^\d{4}-\d\d-\d\d \d\d:\d\d sim \| hour .+ \| today .+$", RegexOptions.Multiline)]
    private static partial Regex PlainLine();

    [GeneratedRegex(@"simulated from (?<from>\S+) until (?<until>\S+):")]
    private static partial Regex Summary();

    [GeneratedRegex(@"^final window=(?<window>\S+) start=(?<start>\S+) .*$", RegexOptions.Multiline)]
    private static partial Regex Final();

    [GeneratedRegex(@"^final_orders window=(?<window>\S+) start=(?<start>\S+) .*$", RegexOptions.Multiline)]
    private static partial Regex FinalOrders();
}
