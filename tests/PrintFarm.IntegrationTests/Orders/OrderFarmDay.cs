using System.Text;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Orders;
using PrintFarm.IntegrationTests.Grafana;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// Three orders over the <see cref="FarmDay"/>'s jobs, through the worker's order book and encoder: 8 dragons due at
/// 10:00 (done at 09:15, on time), 2 castles due at 09:00 (done at 09:27, late), 20 rockets due at 16:00 (open and, at
/// the farm's rate, at risk). The <c>order</c> and <c>order_kpi</c> lines the worker would write for that day.
/// </summary>
internal static class OrderFarmDay
{
    public static readonly (string Id, string Toy, int Quantity, int PlacedMinute, int DueHour)[] Orders =
    [
        ("d-early", "dragon", 8, 7 * 60, 10),
        ("c-late", "castle", 2, (7 * 60) + 30, 9),
        ("r-open", "rocket", 20, (7 * 60) + 45, 16),
    ];

    /// <summary>The order book after the day, and the lines it made.</summary>
    public static (OrderBook Book, string Lines) WorkerOutput(FarmDay day)
    {
        var book = new OrderBook([WindowSpec.Parse("1h"), WindowSpec.Parse("1d")]);
        var encoder = new PointEncoder(day.Farm);
        var lines = new List<string>();
        foreach (var (id, toy, quantity, placed, due) in Orders)
        {
            var json = $$"""{"placed":"{{FarmDay.Day.AddMinutes(placed):O}}","due":"{{FarmDay.Hour(due):O}}","lines":[{"toy":"{{toy}}","quantity":{{quantity}}}]}""";
            var result = book.Receive(id, Encoding.UTF8.GetBytes(json), FarmDay.Day.AddMinutes(placed), (_, _) => false);
            Assert.True(result.Accepted, result.Detail);
        }

        var statuses = new List<OrderStatus>();
        var windows = new List<OrderWindowPoint>();
        var alerts = new List<Core.Alerts.AlertTransition>();
        foreach (var job in day.Jobs.OrderBy(j => j.End))
        {
            book.AddJob(job, (_, _) => false);
            book.Advance(job.End, alerts); // the at_risk field; the alert lines are not part of this seed
        }

        book.Collect((_, _) => false, statuses, windows);
        lines.AddRange(statuses.Select(encoder.Order));
        lines.AddRange(windows.Select(w => encoder.OrderKpi(w)));
        return (book, string.Join('\n', lines));
    }

    /// <summary>Writes the day's order lines to <paramref name="database"/>.</summary>
    public static Task WriteAsync(FarmDay day, string influxUrl, string database) =>
        FarmDay.WriteLinesAsync(influxUrl, database, WorkerOutput(day).Lines);
}
