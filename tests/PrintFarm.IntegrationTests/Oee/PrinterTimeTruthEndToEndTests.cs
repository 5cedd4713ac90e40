using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

namespace PrintFarm.IntegrationTests.Oee;

/// <summary>
/// The simulator's trace, with operator maintenance, declared off-shift time and a short offline timeout, through a real Mosquitto, the real
/// worker and a real InfluxDB 1.x: every closed hour's <c>printer_time</c> point (each state, off-shift, planned and
/// tracked time) and <c>kpi</c> availability, for each printer and the farm, equal the simulator's ground truth
/// (<see cref="Simulator.Truth.PrinterTimeTruth"/>, from the printers' schedules). The worker runs on the simulation's
/// clock, stepped as in <see cref="SimulatorEndToEndTests"/>.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class PrinterTimeTruthEndToEndTests(ServicesFixture services)
{
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(5);
    private const string OffShift = "Mon-Sun 09:30-10:15";

    // Idle gaps, Moonraker's silent pauses and maintenance run longer: offline by silence as well as by presence.
    private static readonly TimeSpan OfflineAfter = TimeSpan.FromMinutes(4);

    private static readonly (PrinterActivity State, string Field)[] Fields =
    [
        (PrinterActivity.Printing, "printing_s"),
        (PrinterActivity.Paused, "paused_s"),
        (PrinterActivity.Preparing, "preparing_s"),
        (PrinterActivity.AwaitingBedClear, "awaiting_bed_clear_s"),
        (PrinterActivity.Idle, "idle_s"),
        (PrinterActivity.Offline, "offline_s"),
        (PrinterActivity.Error, "error_s"),
        (PrinterActivity.Maintenance, "maintenance_s"),
    ];

    [Fact]
    public async Task Time_in_each_state_and_availability_of_every_closed_hour_equal_the_simulators_ground_truth()
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 8,
            Mix = FormatMix.Parse("mixed"),
            Seed = 29,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(6),
            CadenceFactor = 2,
            FailureRate = 0.2,
            CancelRate = 0.2,
            PauseRate = 0.3,
            FlapRate = 0.3,
            MalformedRate = 0.1,
            MaintenanceRate = 0.2,
            PrinterPrefix = "t" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        Assert.True(OffShiftSchedule.TryParse(OffShift, TimeZoneInfo.Utc, out var offShift, out var problem), problem);
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = window.Name;
        settings["PrintFarm:AllowedLateness"] = Lateness.ToString("c", CultureInfo.InvariantCulture);
        settings["PrintFarm:FlushInterval"] = "00:00:05";
        settings["PrintFarm:Oee:OffShift"] = OffShift;
        settings["PrintFarm:Alerts:Rules:StoppedReportingAfter"] = OfflineAfter.ToString("c", CultureInfo.InvariantCulture);
        var clock = new SimulationClock(simulation.Options.Start);
        var topics = new HashSet<string>(StringComparer.Ordinal);

        await using (var worker = await WorkerHost.StartAsync(settings, s => s.AddSingleton<TimeProvider>(clock)))
        {
            await using var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port);

            // A marker after the subscription: retained messages other tests left on the shared broker are counted
            // before it, so the baseline of received messages is exact.
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
                await publisher.ClearRetainedAsync(topics);
            }
        }

        // The worker has stopped: its last flush is in the database.
        var closed = Enumerable.Range(0, 6).Select(h => simulation.Options.Start.AddHours(h))
            .Where(start => window.EndOf(start) + Lateness + TimeSpan.FromMinutes(30) <= simulation.Stop)
            .ToList();
        Assert.True(closed.Count >= 4);
        var times = await RowsAsync(database, "printer_time");
        var kpis = await RowsAsync(database, "kpi");
        var seen = new double[Fields.Length];
        foreach (var start in closed)
        {
            foreach (var printer in simulation.Printers.Select(p => p.Id).Append(string.Empty))
            {
                var expected = simulation.Times.Times(window, start, printer, offShift, OfflineAfter);
                var what = $"{(printer.Length == 0 ? "farm" : printer)} {start:HH:mm}";
                if (!times.TryGetValue((start, printer), out var row))
                {
                    Assert.True(expected.TrackedSeconds == 0, $"{what}: no printer_time point, expected {expected.TrackedSeconds} s tracked");
                    continue;
                }

                for (var i = 0; i < Fields.Length; i++)
                {
                    var (state, field) = Fields[i];
                    AssertEqual(expected.Seconds(state), row.Number(field), $"{what} {field}");
                    seen[i] += printer.Length == 0 ? row.Number(field) : 0;
                }

                AssertEqual(expected.OffShiftSeconds, row.Number("off_shift_s"), $"{what} off_shift_s");
                AssertEqual(expected.PlannedSeconds, row.Number("planned_s"), $"{what} planned_s");
                AssertEqual(expected.TrackedSeconds, row.Number("tracked_s"), $"{what} tracked_s");
                Assert.True(kpis.TryGetValue((start, printer), out var kpi), $"{what}: no kpi point");
                var availability = kpi.OptionalNumber("availability");
                Assert.True(expected.Availability is null == availability is null, $"{what}: availability {availability}, expected {expected.Availability}");
                if (expected.Availability is { } a)
                {
                    Assert.True(Math.Abs(a - availability!.Value) <= 1e-12, $"{what}: availability {availability.Value.ToString("R", CultureInfo.InvariantCulture)}, expected {a.ToString("R", CultureInfo.InvariantCulture)}");
                }
            }
        }

        // The trace puts the farm in every state, and off shift.
        for (var i = 0; i < Fields.Length; i++)
        {
            Assert.True(seen[i] > 0, $"no closed hour of the farm has {Fields[i].Field}");
        }

        Assert.Contains(closed, s => simulation.Times.Times(window, s, offShift: offShift).OffShiftSeconds > 0);
    }

    // Rows of one measurement's 1h printer and farm series, by (window start, printer; empty for the farm).
    private async Task<Dictionary<(DateTimeOffset, string), Dictionary<string, JsonElement>>> RowsAsync(string database, string measurement)
    {
        var rows = await services.Influx.QueryAsync(database, $"SELECT * FROM {measurement} WHERE \"window\" = '1h' AND (\"scope\" = 'printer' OR \"scope\" = 'farm')");
        return rows.ToDictionary(r => (r.Time(), r.Text("printer") ?? string.Empty), r => r);
    }

    // Seconds are sums of whole ticks on both sides: equal, not close.
    private static void AssertEqual(double expected, double actual, string what) =>
        Assert.True(expected == actual, $"{what}: {actual.ToString("R", CultureInfo.InvariantCulture)} expected {expected.ToString("R", CultureInfo.InvariantCulture)}");
}
