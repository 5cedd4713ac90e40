using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>
/// The simulator's trace through the real pipeline — a real Mosquitto, the real worker, a real InfluxDB 1.x — gives
/// <c>kpi</c> values equal to the simulator's ground truth in every closed window, for each format alone and mixed.
/// The worker runs on the simulation's clock, stepped one simulated second at a time and only once the worker has
/// received that second's messages, so receive-time sources (Moonraker, Bambu) see exactly the simulated times.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SimulatorEndToEndTests(ServicesFixture services)
{
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(5);

    public static TheoryData<string> Mixes => new() { "octoprint", "moonraker", "bambu", "native", "mixed" };

    [Theory]
    [MemberData(nameof(Mixes))]
    public async Task Kpis_of_every_closed_window_equal_the_simulators_ground_truth(string mix)
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = mix == "mixed" ? 8 : 4,
            Mix = FormatMix.Parse(mix),
            Seed = 5,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(6),
            CadenceFactor = 2,
            FailureRate = 0.15,
            CancelRate = 0.15,
            PauseRate = 0.3,
            FlapRate = 0.2,
            MalformedRate = 0.2,
            PrinterPrefix = "s" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = window.Name;
        settings["PrintFarm:AllowedLateness"] = Lateness.ToString("c", CultureInfo.InvariantCulture);
        settings["PrintFarm:FlushInterval"] = "00:00:05";
        var clock = new SimulationClock(simulation.Options.Start);
        var topics = new HashSet<string>(StringComparer.Ordinal);

        var worker = await WorkerHost.StartAsync(settings, s => s.AddSingleton<TimeProvider>(clock));
        await using (worker)
        {
            await using var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port);

            // A marker after the subscription: once the worker has rejected it, retained messages other tests left on
            // the shared broker (replayed on subscribe, before the marker) are all counted, and the baseline is exact.
            var rejectedBefore = worker.Counter("printfarm.messages.rejected");
            await publisher.PublishAsync(new SimMessage(simulation.Options.Start, $"printfarm/{simulation.Options.PrinterPrefix}marker/event", "not json"u8.ToArray(), 1, false));
            await worker.WaitForCounterAsync("printfarm.messages.rejected", rejectedBefore + 1, TimeSpan.FromSeconds(30));
            var baseline = worker.Counter("printfarm.mqtt.messages.received");

            var runner = new SimulationRunner(simulation, (m, ct) =>
            {
                if (m.Retain)
                {
                    topics.Add(m.Topic);
                }

                return publisher.PublishAsync(m, ct);
            })
            {
                Speed = 0,
                Clock = clock,
                AwaitDelivered = (published, _) => worker.WaitForCounterAsync("printfarm.mqtt.messages.received", baseline + published, TimeSpan.FromSeconds(30)),
            };
            try
            {
                await runner.RunAsync();
            }
            finally
            {
                // Whatever happened, leave no retained message on the shared broker for the next test's worker.
                await publisher.ClearRetainedAsync(topics);
            }

            Assert.Equal(0, worker.Counter("printfarm.kpi.late_events"));
        }

        // The worker has stopped: its last flush is in the database.
        var truth = simulation.Truth;
        var closed = Enumerable.Range(0, 6).Select(h => simulation.Options.Start.AddHours(h))
            .Where(start => window.EndOf(start) + Lateness + TimeSpan.FromMinutes(30) <= simulation.Stop)
            .ToList();
        Assert.True(closed.Count >= 4);
        Assert.True(truth.Jobs.Count >= 12, $"only {truth.Jobs.Count} jobs");

        var farm = await KpiRowsAsync(database, "farm");
        var toys = await KpiRowsAsync(database, "toy");
        var printers = await KpiRowsAsync(database, "printer");
        // What the worker counted and warned of (other than the malformed messages the trace sends on purpose) goes
        // with any failure, so a window the engine got wrong is told apart from a write that was spooled or refused.
        var context = $"; written {worker.Counter("printfarm.influx.points.written")}, write failures {worker.Counter("printfarm.influx.write.failures")}, "
            + $"spooled {worker.Counter("printfarm.influx.points.spooled")}, rejected {worker.Counter("printfarm.influx.points.rejected")}, "
            + $"received {worker.Counter("printfarm.mqtt.messages.received")}; warnings: {string.Join(" | ", worker.Logs.AtLeast(LogLevel.Warning).Where(w => !w.Contains(": Rejected message on ", StringComparison.Ordinal)).Take(20))}";
        try
        {
            foreach (var start in closed)
            {
                AssertRow(truth.Totals(window, start), farm, (start, string.Empty), $"farm {start:HH:mm}", busy: true);
                foreach (var toy in truth.Jobs.Select(j => j.Reported.Toy).Distinct())
                {
                    AssertRow(truth.Totals(window, start, KpiScope.Toy, toy), toys, (start, toy), $"toy {toy} {start:HH:mm}", busy: false);
                }

                foreach (var printer in simulation.Printers)
                {
                    AssertRow(truth.Totals(window, start, KpiScope.Printer, printer.Id), printers, (start, printer.Id), $"printer {printer.Id} {start:HH:mm}", busy: true);
                }
            }
        }
        catch (Xunit.Sdk.XunitException e)
        {
            Assert.Fail(e.Message + context);
        }
    }

    private async Task<Dictionary<(DateTimeOffset, string), Dictionary<string, JsonElement>>> KpiRowsAsync(string database, string scope)
    {
        var subject = scope switch { "toy" => "toy", "printer" => "printer", _ => null };
        var rows = await services.Influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"scope\" = '{scope}' AND \"window\" = '1h'");
        return rows.ToDictionary(
            r => (r.Time(), subject is null ? string.Empty : r.Text(subject) ?? string.Empty),
            r => r);
    }

    private static void AssertRow(KpiTotals expected, Dictionary<(DateTimeOffset, string), Dictionary<string, JsonElement>> rows, (DateTimeOffset, string) key, string what, bool busy)
    {
        if (!rows.TryGetValue(key, out var row))
        {
            // No point at all: only right when nothing happened there.
            Assert.True(expected.JobsEnded == 0 && (!busy || expected.BusySeconds == 0), $"{what}: no kpi point, expected {expected.JobsEnded} jobs and {expected.BusySeconds} s printing");
            return;
        }

        double Field(string name) => row.OptionalNumber(name) ?? 0;
        Assert.True(
            (expected.JobsCompleted, expected.JobsFailed, expected.JobsCancelled, expected.ToysCompleted, expected.JobsWithoutFilament)
            == ((long)Field("jobs_completed"), (long)Field("jobs_failed"), (long)Field("jobs_cancelled"), (long)Field("toys_completed"), (long)Field("jobs_without_filament")),
            $"{what}: counts {new[] { row }.Format()} expected {(expected.JobsCompleted, expected.JobsFailed, expected.JobsCancelled, expected.ToysCompleted, expected.JobsWithoutFilament)}");
        AssertClose(expected.PrintTimeSeconds, Field("print_time_s"), what + " print_time_s");
        AssertClose(expected.FilamentUsedGrams, Field("filament_used_g"), what + " filament_used_g");
        AssertClose(expected.FilamentWasteGrams, Field("filament_waste_g"), what + " filament_waste_g");
        AssertClose(expected.AvgPrintTimePerToySeconds, row.OptionalNumber("avg_print_time_per_toy_s"), what + " avg_print_time_per_toy_s");
        AssertClose(expected.MaterialEfficiency, row.OptionalNumber("material_efficiency"), what + " material_efficiency");
        AssertClose(expected.SuccessRate, row.OptionalNumber("success_rate"), what + " success_rate");
        if (busy)
        {
            AssertClose(expected.BusySeconds, Field("printing_s"), what + " printing_s");
        }
    }

    // Equal up to the rounding of summing doubles in another order (relative 1e-9).
    private static void AssertClose(double? expected, double? actual, string what)
    {
        Assert.True(expected is null == actual is null, $"{what}: {actual} expected {expected}");
        if (expected is { } e && actual is { } a)
        {
            Assert.True(Math.Abs(e - a) <= 1e-9 * Math.Max(1, Math.Abs(e)), $"{what}: {a.ToString("R", CultureInfo.InvariantCulture)} expected {e.ToString("R", CultureInfo.InvariantCulture)}");
        }
    }
}
