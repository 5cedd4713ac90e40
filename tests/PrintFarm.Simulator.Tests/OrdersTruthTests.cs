using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Orders;
using PrintFarm.Core.Processing;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Tests;

/// <summary>
/// A farm printing for orders (<see cref="SimulationOptions.Orders"/>), its trace fed to the core's processor with an
/// order book: every order, and the order totals of every window, are the simulator's ground truth
/// (<see cref="Truth.OrdersTruth"/>), for each format's file names.
/// </summary>
public sealed class OrdersTruthTests
{
    public static TheoryData<string> Mixes => new() { "octoprint", "moonraker", "bambu", "native", "mixed" };

    [Theory]
    [MemberData(nameof(Mixes))]
    public void Every_order_and_every_windows_order_totals_equal_the_ground_truth(string mix)
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(Options(mix));
        var engine = new KpiEngine(new KpiEngineOptions { Windows = [window] });
        var book = new OrderBook([window]);
        var processor = new TelemetryProcessor(
            [new NativeAdapter(), new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            engine,
            new PointEncoder("sim"))
        { Orders = book };
        var output = new ProcessorOutput();
        foreach (var m in simulation.Messages())
        {
            processor.Process(new InboundMessage(m.Topic, m.Payload.ToArray(), false, m.Time), output);
            output.Clear();
        }

        var truth = simulation.OrdersTruth.Statuses();
        var completed = truth.Where(o => o.Completed is not null).ToList();
        Assert.True(completed.Count >= 8, $"only {completed.Count} of {truth.Count} orders completed");
        Assert.Contains(completed, o => o.OnTime == true);
        Assert.Contains(completed, o => o.OnTime == false);
        Assert.Equal(truth.Count, book.Count);
        Assert.Equal(0, book.SurplusToys);
        Assert.Equal(0, book.LateCompletions);

        // An order completed only after one of its plates failed or was cancelled and was printed again.
        var reprinted = simulation.Truth.Jobs.Where(j => j.Planned.Order is not null && j.Reported.Outcome != JobOutcome.Completed)
            .Select(j => j.Planned.Order!).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(completed, o => reprinted.Contains(o.Id));

        foreach (var expected in truth)
        {
            var actual = book.Get(expected.Id);
            Assert.NotNull(actual);
            Assert.True(
                (expected.Placed, expected.Due, expected.ToysOrdered, expected.ToysCompleted, expected.Completed, expected.OnTime)
                == (actual.Placed, actual.Due, actual.ToysOrdered, actual.ToysCompleted, actual.Completed, actual.OnTime),
                $"order {expected.Id}: {actual} expected {expected}");
            AssertClose(expected.PrintSeconds, actual.PrintSeconds, $"order {expected.Id} print seconds");
        }

        var points = new List<OrderWindowPoint>();
        book.Collect(engine.IsWindowClosed, [], points);
        var written = points.ToDictionary(p => p.WindowStart, p => p.Totals);
        var windows = simulation.OrdersTruth.WindowsWithOrders(window);
        Assert.True(windows.Count >= 4, $"orders completed in only {windows.Count} windows");
        Assert.Equal(windows, written.Keys.Order());
        foreach (var start in windows)
        {
            var expected = simulation.OrdersTruth.Totals(window, start);
            var actual = written[start];
            Assert.True(
                (expected.OrdersCompleted, expected.OrdersOnTime, expected.Toys) == (actual.OrdersCompleted, actual.OrdersOnTime, actual.Toys),
                $"{start:HH:mm}: {(actual.OrdersCompleted, actual.OrdersOnTime, actual.Toys)} expected {(expected.OrdersCompleted, expected.OrdersOnTime, expected.Toys)}");
            AssertClose(expected.PrintSeconds, actual.PrintSeconds, $"{start:HH:mm} print seconds");
            AssertClose(expected.LeadSeconds, actual.LeadSeconds, $"{start:HH:mm} lead seconds");
        }
    }

    [Fact]
    public void Every_plate_is_printed_for_an_order_named_in_its_file_and_no_order_gets_more_toys_than_it_ordered()
    {
        var simulation = new FarmSimulation(Options("mixed"));
        var messages = simulation.Messages().ToList();

        var orders = messages.Where(m => m.Topic.StartsWith(OrderDesk.TopicPrefix + "/", StringComparison.Ordinal)).ToList();
        Assert.Equal(simulation.OrdersTruth.Orders.Count, orders.Count);
        Assert.All(orders, m => Assert.True(m.Retain && m.Qos == 1, m.Topic));
        Assert.All(simulation.Truth.Started, j => Assert.Equal(j.Planned.Order, OrderLink.FromFile(j.Reported.File)));
        foreach (var order in simulation.OrdersTruth.Orders)
        {
            var completed = simulation.Truth.Started.Where(j => j.Planned.Order == order.Id && j.Planned.Outcome == JobOutcome.Completed).Sum(j => j.Planned.Toy.PerPlate);
            Assert.True(completed <= order.ToysOrdered, $"order {order.Id}: {completed} toys planned, {order.ToysOrdered} ordered");
            Assert.All(order.Lines, l => Assert.Equal(0, l.Quantity % l.Toy.PerPlate));
        }

        // Off by default: the same options without orders publish none and name no order.
        var plain = new FarmSimulation(Options("mixed", orders: false));
        Assert.DoesNotContain(plain.Messages(), m => m.Topic.StartsWith(OrderDesk.TopicPrefix, StringComparison.Ordinal));
        Assert.All(plain.Truth.Started, j => Assert.Null(j.Planned.Order));
    }

    private static SimulationOptions Options(string mix, bool orders = true) => new()
    {
        Printers = 8,
        Mix = FormatMix.Parse(mix),
        Seed = 31,
        Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
        Duration = TimeSpan.FromHours(12),
        FailureRate = 0.12,
        CancelRate = 0.08,
        FlapRate = 0.2,
        MalformedRate = 0.2,
        Orders = orders,
    };

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual} expected {expected}");
}
