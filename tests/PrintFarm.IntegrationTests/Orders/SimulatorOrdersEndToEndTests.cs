using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// A simulated farm printing for orders (<see cref="SimulationOptions.Orders"/>) through a real Mosquitto, the real
/// worker and a real InfluxDB 1.x: every <c>order</c> point, and the <c>order_kpi</c> point of every closed window,
/// equal the simulator's ground truth (<see cref="PrintFarm.Simulator.Truth.OrdersTruth"/>) — orders reprinted after a
/// failed plate, orders completed late, and all four formats' file names linking plates to orders. The worker runs on
/// the simulation's clock, stepped one simulated second at a time once it has that second's messages.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SimulatorOrdersEndToEndTests(ServicesFixture services)
{
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Every_order_and_the_order_kpi_of_every_closed_window_equal_the_simulators_ground_truth()
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 8,
            Mix = FormatMix.Parse("mixed"),
            Seed = 17,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(8),
            CadenceFactor = 2,
            FailureRate = 0.12,
            CancelRate = 0.08,
            Orders = true,
            PrinterPrefix = "so" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = window.Name;
        settings["PrintFarm:AllowedLateness"] = Lateness.ToString("c", CultureInfo.InvariantCulture);
        settings["PrintFarm:FlushInterval"] = "00:00:05";
        var clock = new SimulationClock(simulation.Options.Start);
        var topics = new HashSet<string>(StringComparer.Ordinal);

        await using var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port);
        try
        {
            await using var worker = await WorkerHost.StartAsync(settings, s => s.AddSingleton<TimeProvider>(clock));

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
            await runner.RunAsync();
            Assert.Equal(0, worker.Counter("printfarm.kpi.late_events"));
        }
        finally
        {
            // Once the worker has stopped (an empty retained order withdraws it): leave no retained message, printers'
            // or orders', for the next test's worker.
            await publisher.ClearRetainedAsync(topics);
        }

        // The worker has stopped: its last flush is in the database.
        var truth = simulation.OrdersTruth;
        var expected = truth.Statuses();
        var completed = expected.Where(o => o.Completed is not null).ToList();
        Assert.True(completed.Count >= 6, $"only {completed.Count} of {expected.Count} orders completed");
        Assert.Contains(completed, o => o.OnTime == false);
        Assert.Contains(completed, o => o.OnTime == true);
        var reprinted = simulation.Truth.Jobs.Where(j => j.Planned.Order is not null && j.Reported.Outcome != PrintFarm.Core.Events.JobOutcome.Completed)
            .Select(j => j.Planned.Order!).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(completed, o => reprinted.Contains(o.Id));

        var orders = (await services.Influx.QueryAsync(database, "SELECT * FROM \"order\"")).ToDictionary(r => r.Text("order")!, StringComparer.Ordinal);
        foreach (var order in expected)
        {
            Assert.True(orders.TryGetValue(order.Id, out var row), $"no order point for {order.Id}");
            var what = $"order {order.Id}: {new[] { row }.Format()}";
            Assert.Equal(order.Placed, row.Time());
            Assert.Equal(order.Completed is null ? "open" : "completed", row.Text("status"));
            Assert.Equal(Iso(order.Due), row.Text("due"));
            Assert.Equal(order.ToysOrdered, (long)row.Number("toys_ordered"));
            Assert.True(order.ToysCompleted == (long)row.Number("toys_completed"), what);
            AssertClose(order.PrintSeconds, row.OptionalNumber("print_time_s") ?? 0, what);
            if (order.Completed is { } at)
            {
                Assert.True(Iso(at) == row.Text("completed"), what);
                Assert.True(order.OnTime == row["on_time"].GetBoolean(), what);
                Assert.Equal((at - order.Due).TotalSeconds, row.Number("lateness_s"));
            }
        }

        var closed = Enumerable.Range(0, 8).Select(h => simulation.Options.Start.AddHours(h))
            .Where(start => window.EndOf(start) + Lateness + TimeSpan.FromMinutes(30) <= simulation.Stop)
            .ToList();
        var windows = (await services.Influx.QueryAsync(database, "SELECT * FROM order_kpi WHERE \"window\" = '1h'")).ToDictionary(r => r.Time());
        Assert.True(closed.Count(s => truth.Totals(window, s).OrdersCompleted > 0) >= 3, "orders completed in fewer than three closed hours");
        foreach (var start in closed)
        {
            var totals = truth.Totals(window, start);
            if (!windows.TryGetValue(start, out var row))
            {
                Assert.True(totals.OrdersCompleted == 0, $"{start:HH:mm}: no order_kpi point, expected {totals.OrdersCompleted} orders");
                continue;
            }

            var what = $"{start:HH:mm}: {new[] { row }.Format()}";
            Assert.True(
                (totals.OrdersCompleted, totals.OrdersOnTime, totals.Toys) == ((long)row.Number("orders_completed"), (long)row.Number("orders_on_time"), (long)row.Number("toys")),
                what + $" expected {(totals.OrdersCompleted, totals.OrdersOnTime, totals.Toys)}");
            AssertClose(totals.OnTimeRate!.Value, row.Number("on_time_rate"), what);
            AssertClose(totals.PrintSeconds, row.Number("print_time_s"), what);
            AssertClose(totals.PrintSecondsPerToy!.Value, row.Number("print_time_per_toy_s"), what);
            AssertClose(totals.PrintSecondsPerOrder!.Value, row.Number("print_time_per_order_s"), what);
            AssertClose(totals.LeadSecondsPerOrder!.Value, row.Number("lead_time_per_order_s"), what);
        }
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // Equal up to the rounding of summing doubles in another order (relative 1e-9).
    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual.ToString("R", CultureInfo.InvariantCulture)} expected {expected.ToString("R", CultureInfo.InvariantCulture)}");
}
