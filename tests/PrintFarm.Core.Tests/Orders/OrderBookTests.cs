using System.Globalization;
using System.Text;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Orders;
using PrintFarm.Core.Processing;

namespace PrintFarm.Core.Tests.Orders;

/// <summary>The order book through the whole pure pipeline: native job events and order messages in, order state out.</summary>
public sealed class OrderBookTests
{
    internal static readonly DateTimeOffset Origin = new(2026, 7, 1, 6, 0, 0, TimeSpan.Zero);

    internal static TelemetryProcessor CreateSut() => new(
        [new NativeAdapter()],
        new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
        new KpiEngine(),
        new PointEncoder("test"))
    {
        Orders = new OrderBook([WindowSpec.Parse("1h"), WindowSpec.Parse("1d")]),
    };

    internal static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    internal static InboundMessage OrderMessage(string id, DateTimeOffset placed, DateTimeOffset due, params (string Toy, int Quantity)[] lines) =>
        new($"printfarm/orders/{id}", Encoding.UTF8.GetBytes(
            $$"""{"placed":"{{Iso(placed)}}","due":"{{Iso(due)}}","lines":[{{string.Join(',', lines.Select(l => $$"""{"toy":"{{l.Toy}}","quantity":{{l.Quantity}}}"""))}}]}"""), true, placed);

    internal static IEnumerable<InboundMessage> Job(string printer, string jobId, string file, DateTimeOffset start, TimeSpan length, string outcome = "completed")
    {
        yield return new($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"job_started","ts":"{{Iso(start)}}","job_id":"{{jobId}}","file":"{{file}}"}"""), false, start);
        var end = start + length;
        yield return new($"printfarm/{printer}/event", Encoding.UTF8.GetBytes($$"""{"type":"job_finished","ts":"{{Iso(end)}}","job_id":"{{jobId}}","outcome":"{{outcome}}","print_time_s":{{length.TotalSeconds.ToString(CultureInfo.InvariantCulture)}}}"""), false, end);
    }

    internal static ProcessorOutput Send(TelemetryProcessor sut, IEnumerable<InboundMessage> messages)
    {
        var output = new ProcessorOutput();
        foreach (var m in messages)
        {
            var result = sut.Process(m, output);
            Assert.True(result.Accepted, $"{m.Topic} rejected: {result.Reason} {result.Detail}");
        }

        sut.Flush(output);
        return output;
    }

    [Fact]
    public void Completed_toys_go_first_in_first_out_to_open_orders_of_that_toy()
    {
        var sut = CreateSut();
        Send(sut, [
            OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 2)),
            OrderMessage("B", Origin.AddMinutes(1), Origin.AddDays(1), ("dragon", 3), ("owl", 1)),
            .. Job("p1", "j1", "dragon_x3.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1)),
        ]);

        var a = sut.Orders!.Get("A")!;
        var b = sut.Orders.Get("B")!;
        Assert.Equal((2L, 2L), (a.ToysCompleted, a.ToysOrdered));
        Assert.Equal(Origin.AddMinutes(5).AddHours(1), a.Completed);
        Assert.True(a.OnTime);
        Assert.Equal(1, b.ToysCompleted);
        Assert.Null(b.Completed);
        // The hour is shared by the toys: A took two of three.
        Assert.Equal(2400, a.PrintSeconds, 6);
    }

    [Fact]
    public void A_failed_print_completes_nothing_and_its_reprint_completes_the_order_once()
    {
        var sut = CreateSut();
        var output = Send(sut, [
            OrderMessage("A", Origin, Origin.AddHours(5), ("dragon", 2)),
            .. Job("p1", "j1", "dragon_x2.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1), "failed"),
        ]);
        Assert.Equal(0, sut.Orders!.Get("A")!.ToysCompleted);

        output = Send(sut, [.. Job("p1", "j2", "dragon_x2.gcode", Origin.AddHours(2), TimeSpan.FromHours(1))]);
        var a = sut.Orders.Get("A")!;
        Assert.Equal(2, a.ToysCompleted);
        Assert.True(a.OnTime);
        // Production time counts both attempts.
        Assert.Equal(7200, a.PrintSeconds, 6);
        var hour = Assert.Single(output.Lines, l => l.StartsWith("order_kpi,farm=test,window=1h ", StringComparison.Ordinal));
        Assert.Contains("orders_completed=1i", hour, StringComparison.Ordinal);
        Assert.Contains("on_time_rate=1", hour, StringComparison.Ordinal);
        Assert.Contains("print_time_per_toy_s=3600", hour, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_named_for_an_order_delivers_to_that_order_and_keeps_the_toy_name()
    {
        var sut = CreateSut();
        var output = Send(sut, [
            OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 2)),
            OrderMessage("B-7", Origin.AddMinutes(1), Origin.AddDays(1), ("dragon", 2)),
            .. Job("p1", "j1", "order-B-7_dragon_x2.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1)),
        ]);

        Assert.Equal(0, sut.Orders!.Get("A")!.ToysCompleted);
        Assert.NotNull(sut.Orders.Get("B-7")!.Completed);
        Assert.Contains(output.EndedJobs, j => j.Toy == "dragon" && j.Quantity == 2);
    }

    [Fact]
    public void An_order_completed_after_its_due_time_is_late_and_lowers_the_on_time_rate()
    {
        var sut = CreateSut();
        var output = Send(sut, [
            OrderMessage("A", Origin, Origin.AddHours(1), ("dragon", 1)),
            OrderMessage("B", Origin, Origin.AddHours(9), ("owl", 1)),
            .. Job("p1", "j1", "dragon.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(2)),
            .. Job("p2", "j2", "owl.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(2)),
        ]);

        Assert.False(sut.Orders!.Get("A")!.OnTime);
        Assert.True(sut.Orders.Get("B")!.OnTime);
        var day = Assert.Single(output.Lines, l => l.StartsWith("order_kpi,farm=test,window=1d ", StringComparison.Ordinal));
        Assert.Contains("orders_completed=2i", day, StringComparison.Ordinal);
        Assert.Contains("orders_on_time=1i", day, StringComparison.Ordinal);
        Assert.Contains("on_time_rate=0.5", day, StringComparison.Ordinal);
        Assert.Contains(output.Lines, l => l.StartsWith("order,farm=test,order=A ", StringComparison.Ordinal) && l.Contains("on_time=false", StringComparison.Ordinal));
    }

    [Fact]
    public void Toys_nobody_ordered_are_surplus_and_a_completed_order_is_final()
    {
        var sut = CreateSut();
        Send(sut, [
            OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 1)),
            .. Job("p1", "j1", "dragon_x3.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1)),
            // The retained order delivered again (a reconnect) with more toys: ignored, the order is complete.
            OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 5)),
        ]);

        Assert.Equal(2, sut.Orders!.SurplusToys);
        Assert.Equal(1, sut.Orders.Get("A")!.ToysOrdered);
    }

    [Fact]
    public void A_withdrawn_order_takes_no_more_toys()
    {
        var sut = CreateSut();
        var output = new ProcessorOutput();
        Send(sut, [OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 1))]);
        Assert.True(sut.Process(new InboundMessage("printfarm/orders/A", ReadOnlyMemory<byte>.Empty, true, Origin.AddMinutes(1)), output).Accepted);
        Send(sut, [.. Job("p1", "j1", "dragon.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1))]);
        Assert.True(sut.Orders!.Get("A")!.Withdrawn);
        Assert.Equal(0, sut.Orders.Get("A")!.ToysCompleted);
        Assert.Equal(1, sut.Orders.SurplusToys);
    }

    [Theory]
    [InlineData("""{"lines":[{"toy":"dragon","quantity":1}]}""", RejectReasons.MissingField)]
    [InlineData("""{"due":"tomorrow","lines":[{"toy":"dragon","quantity":1}]}""", RejectReasons.InvalidField)]
    [InlineData("""{"due":"2026-07-02T00:00:00Z","lines":[]}""", RejectReasons.InvalidField)]
    [InlineData("""{"due":"2026-07-02T00:00:00Z","lines":[{"toy":"dragon","quantity":0}]}""", RejectReasons.InvalidField)]
    [InlineData("""{"due":"2026-07-02T00:00:00Z","lines":[{"quantity":2}]}""", RejectReasons.InvalidField)]
    [InlineData("""{"due":"2026-07-02T00:00:00Z","status":"shipped","lines":[{"toy":"dragon","quantity":1}]}""", RejectReasons.InvalidField)]
    [InlineData("""[1,2]""", RejectReasons.InvalidJson)]
    [InlineData("""{"due":""", RejectReasons.InvalidJson)]
    public void A_bad_order_is_rejected_with_a_reason_and_changes_nothing(string payload, string reason)
    {
        var sut = CreateSut();
        var result = sut.Process(new InboundMessage("printfarm/orders/A", Encoding.UTF8.GetBytes(payload), true, Origin), new ProcessorOutput());
        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.Equal(0, sut.Orders!.Count);
    }

    [Fact]
    public void An_order_that_cannot_be_made_by_its_due_time_raises_order_at_risk_before_it_is_late_and_resolves_when_completed()
    {
        var sut = CreateSut();
        // One printer, one dragon an hour: 10 more dragons cannot be made in 4 hours.
        var output = Send(sut, [
            OrderMessage("A", Origin, Origin.AddHours(6), ("dragon", 12)),
            .. Job("p1", "j1", "dragon.gcode", Origin, TimeSpan.FromHours(1)),
            .. Job("p1", "j2", "dragon.gcode", Origin.AddHours(1), TimeSpan.FromHours(1)),
            .. Job("p1", "j3", "dragon_x10.gcode", Origin.AddHours(2), TimeSpan.FromHours(1)),
        ]);

        var fired = Assert.Single(output.Alerts, a => a.Rule == OrderBook.AtRiskRule && a.State == AlertState.Firing);
        Assert.Equal(KpiScope.Order, fired.Scope);
        Assert.Equal("A", fired.Subject);
        Assert.True(fired.At < Origin.AddHours(6));
        Assert.Contains(output.Lines, l => l.StartsWith("alert,farm=test,order=A,rule=order_at_risk,scope=order,state=firing ", StringComparison.Ordinal));
        Assert.Contains(output.Alerts, a => a.Rule == OrderBook.AtRiskRule && a.State == AlertState.Resolved && a.At == Origin.AddHours(3));
        Assert.True(sut.Orders!.Get("A")!.OnTime);
    }

    [Fact]
    public void An_older_checkpoint_without_orders_restores_and_starts_the_book_empty()
    {
        var sut = CreateSut();
        Send(sut, [OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 1))]);
        var checkpoint = sut.SaveCheckpoint(Origin);
        Assert.NotNull(checkpoint["orders"]);
        checkpoint.Remove("orders");

        var restored = CreateSut();
        Send(restored, [OrderMessage("B", Origin, Origin.AddDays(1), ("owl", 1))]);
        restored.RestoreCheckpoint(checkpoint);
        Assert.Equal(0, restored.Orders!.Count);
    }

    [Fact]
    public void A_checkpoint_carries_the_book_and_a_replayed_job_end_counts_nothing_twice()
    {
        var sut = CreateSut();
        var job = Job("p1", "j1", "dragon_x2.gcode", Origin.AddMinutes(5), TimeSpan.FromHours(1)).ToList();
        Send(sut, [OrderMessage("A", Origin, Origin.AddDays(1), ("dragon", 4)), .. job]);
        var checkpoint = sut.SaveCheckpoint(Origin.AddHours(2));

        var restored = CreateSut();
        restored.RestoreCheckpoint(System.Text.Json.Nodes.JsonNode.Parse(checkpoint.ToJsonString())!.AsObject());
        // Redelivery after the restart (QoS 1, a replayed journal tail): the same job end again.
        Send(restored, job);
        Assert.Equal(2, restored.Orders!.Get("A")!.ToysCompleted);
        Assert.Equal(3600, restored.Orders.Get("A")!.PrintSeconds, 6);
    }

    [Fact]
    public void Subscription_filters_include_the_order_topic()
    {
        Assert.Contains("printfarm/orders/+", CreateSut().SubscriptionFilters);
    }
}
