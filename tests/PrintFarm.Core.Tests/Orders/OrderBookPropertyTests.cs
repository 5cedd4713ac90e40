using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Orders;
using PrintFarm.Core.Processing;
using static PrintFarm.Core.Tests.Orders.OrderBookTests;

namespace PrintFarm.Core.Tests.Orders;

/// <summary>
/// Properties of the order book over generated farms (orders first, then jobs of random toys and outcomes): toys are
/// conserved, no order gets more than it ordered, first-in-first-out is exact per toy, and a checkpoint and restore at
/// any point changes nothing.
/// </summary>
public sealed class OrderBookPropertyTests
{
    private static readonly string[] Toys = ["dragon", "owl", "frog"];

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 16)];

    private sealed record Trace(List<(string Id, string Toy, int Quantity)> Orders, List<InboundMessage> Messages, Dictionary<string, int> CompletedToys);

    private static Trace Generate(int seed)
    {
        var random = new Random(seed);
        var orders = new List<(string, string, int)>();
        var messages = new List<InboundMessage>();
        for (var i = 0; i < random.Next(1, 12); i++)
        {
            var id = "o" + i;
            var toy = Toys[random.Next(Toys.Length)];
            var quantity = random.Next(1, 8);
            orders.Add((id, toy, quantity));
            messages.Add(OrderMessage(id, Origin.AddMinutes(i), Origin.AddHours(random.Next(1, 30)), (toy, quantity)));
        }

        var completed = Toys.ToDictionary(t => t, _ => 0);
        var time = Origin.AddHours(1);
        for (var j = 0; j < random.Next(5, 40); j++)
        {
            var toy = Toys[random.Next(Toys.Length)];
            var quantity = random.Next(1, 4);
            var outcome = random.Next(4) == 0 ? "failed" : "completed";
            var length = TimeSpan.FromMinutes(random.Next(20, 180));
            messages.AddRange(Job("p" + random.Next(3), "j" + j, $"{toy}_x{quantity}.gcode", time, length));
            if (outcome == "completed")
            {
                completed[toy] += quantity;
            }

            // The generated jobs are all completed except the failed ones, which are rewritten below.
            if (outcome == "failed")
            {
                messages[^1] = Job("p0", "j" + j, $"{toy}_x{quantity}.gcode", time, length, "failed").Last();
                messages[^2] = Job("p0", "j" + j, $"{toy}_x{quantity}.gcode", time, length, "failed").First();
            }

            time += length + TimeSpan.FromMinutes(1);
        }

        // One printer at a time keeps every job's start and end in order.
        messages = [.. messages.Select((m, i) => m.Topic.StartsWith("printfarm/p", StringComparison.Ordinal) ? m with { Topic = "printfarm/p0/event" } : m)];
        return new Trace(orders, messages, completed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Toys_are_conserved_and_allocated_first_in_first_out(int seed)
    {
        var trace = Generate(seed);
        var sut = CreateSut();
        Send(sut, trace.Messages);
        var book = sut.Orders!;

        long delivered = 0;
        foreach (var toy in Toys)
        {
            // First in, first out: walking the orders of this toy in placed order, each takes what is left.
            var left = trace.CompletedToys[toy];
            foreach (var (id, _, quantity) in trace.Orders.Where(o => o.Toy == toy))
            {
                var status = book.Get(id)!;
                Assert.Equal(Math.Min(quantity, left), status.ToysCompleted);
                Assert.Equal(status.ToysCompleted == quantity, status.Completed is not null);
                left -= (int)status.ToysCompleted;
                delivered += status.ToysCompleted;
            }
        }

        Assert.Equal(trace.CompletedToys.Values.Sum(), delivered + book.SurplusToys);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_checkpoint_and_restore_at_any_message_gives_the_same_book(int seed)
    {
        var trace = Generate(seed);
        var straight = CreateSut();
        Send(straight, trace.Messages);

        var cut = new Random(seed * 31).Next(trace.Messages.Count + 1);
        var first = CreateSut();
        Send(first, trace.Messages.Take(cut));
        var document = System.Text.Json.Nodes.JsonNode.Parse(first.SaveCheckpoint(Origin).ToJsonString())!.AsObject();
        var second = CreateSut();
        second.RestoreCheckpoint(document);
        Send(second, trace.Messages.Skip(cut));

        foreach (var (id, _, _) in trace.Orders)
        {
            var a = straight.Orders!.Get(id)!;
            var b = second.Orders!.Get(id)!;
            Assert.Equal(a with { PrintSeconds = 0 }, b with { PrintSeconds = 0 });
            Assert.Equal(a.PrintSeconds, b.PrintSeconds, 6);
        }

        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(straight.Orders!.SaveState()),
            System.Text.Json.JsonSerializer.Serialize(second.Orders!.SaveState()));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Each_windows_order_kpis_are_the_formulas_over_the_orders_completed_in_it(int seed)
    {
        var trace = Generate(seed);
        var sut = CreateSut();
        var output = Send(sut, trace.Messages);

        // The last order_kpi line of each window (each flush rewrites the window's point).
        var points = new Dictionary<(string Window, long Time), Dictionary<string, string>>();
        foreach (var line in output.Lines.Where(l => l.StartsWith("order_kpi,", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ');
            var window = parts[0].Split(',').Single(t => t.StartsWith("window=", StringComparison.Ordinal))[7..];
            points[(window, long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture))] =
                parts[1].Split(',').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1].TrimEnd('i'));
        }

        var completed = trace.Orders.Select(o => sut.Orders!.Get(o.Id)!).Where(o => o.Completed is not null).ToList();
        foreach (var window in new[] { PrintFarm.Core.Kpis.WindowSpec.Parse("1h"), PrintFarm.Core.Kpis.WindowSpec.Parse("1d") })
        {
            foreach (var group in completed.GroupBy(o => window.StartOf(o.Completed!.Value)))
            {
                var fields = points[(window.Name, group.Key.ToUnixTimeMilliseconds())];
                var orders = group.Count();
                var onTime = group.Count(o => o.Completed <= o.Due);
                Assert.Equal(orders, long.Parse(fields["orders_completed"], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(onTime, long.Parse(fields["orders_on_time"], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal((double)onTime / orders, double.Parse(fields["on_time_rate"], System.Globalization.CultureInfo.InvariantCulture), 9);

                // Failed attempts are in the production time; each toy is counted once, as ordered.
                var toys = group.Sum(o => o.ToysOrdered);
                var seconds = group.Sum(o => o.PrintSeconds);
                Assert.Equal(toys, long.Parse(fields["toys"], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(seconds / toys, double.Parse(fields["print_time_per_toy_s"], System.Globalization.CultureInfo.InvariantCulture), 6);
                Assert.Equal(seconds / orders, double.Parse(fields["print_time_per_order_s"], System.Globalization.CultureInfo.InvariantCulture), 6);
            }

            Assert.Equal(completed.Select(o => window.StartOf(o.Completed!.Value)).Distinct().Count(), points.Keys.Count(k => k.Window == window.Name));
        }

        Assert.All(completed, o => Assert.Equal(o.ToysOrdered, o.ToysCompleted));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Arbitrary_bytes_on_an_order_topic_never_throw(int seed)
    {
        var random = new Random(seed);
        var sut = CreateSut();
        for (var i = 0; i < 200; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            var result = sut.Process(new InboundMessage("printfarm/orders/x" + i, bytes, true, Origin), new ProcessorOutput());
            Assert.True(result.Accepted || result.Reason is not null);
        }
    }
}
