using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Orders;

namespace PrintFarm.Simulator.Truth;

/// <summary>
/// The simulator's ground truth of orders and on-time delivery, from its own schedule: which plates the desk
/// (<see cref="OrderDesk"/>) gave to which order and how each truly ended. It does not run the core's order book; it
/// uses only the core's window rules (<see cref="WindowSpec"/>) and the formulas of <see cref="OrderTotals"/>. Safe to
/// read while the simulation is still adding jobs.
/// </summary>
/// <remarks>
/// Every plate is linked to its order by its file name, and the desk never plans more completed toys than an order
/// needs, nor a reprint before the failure it replaces has ended. So an order has the toys of its completed plates (a
/// failed toy counts once, when its reprint completes), all the printing time of its plates, failed ones included,
/// and completes at the end of the plate that brings its last toy; it is on time when that is at or before its due
/// time, and counts in the window containing that instant.
/// </remarks>
public sealed class OrdersTruth
{
    private readonly OrderDesk? _desk;
    private readonly GroundTruth _jobs;

    internal OrdersTruth(OrderDesk? desk, GroundTruth jobs)
    {
        _desk = desk;
        _jobs = jobs;
    }

    /// <summary>The orders taken so far (none when orders are off), in placed order.</summary>
    public IReadOnlyList<SimOrder> Orders => _desk?.Orders ?? [];

    /// <summary>
    /// Every order placed before <paramref name="until"/> (all when null) as the worker's <c>order</c> point should
    /// stand once it has every job that ended before then. <see cref="OrderStatus.AtRisk"/> is always false here: it
    /// is the worker's projection, not a fact of the schedule.
    /// </summary>
    public IReadOnlyList<OrderStatus> Statuses(DateTimeOffset? until = null)
    {
        var byOrder = _jobs.Jobs.Where(j => j.Planned.Order is not null && (until is null || j.Reported.End < until))
            .GroupBy(j => j.Planned.Order!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(j => j.Reported.End).ToList(), StringComparer.Ordinal);
        var statuses = new List<OrderStatus>();
        foreach (var order in Orders.Where(o => until is null || o.Placed < until))
        {
            var plates = byOrder.GetValueOrDefault(order.Id) ?? [];
            long toys = 0;
            double seconds = 0;
            DateTimeOffset? completed = null;
            foreach (var plate in plates)
            {
                seconds += plate.Reported.PrintTimeSeconds;
                toys += plate.Reported.ToysCompleted;
                if (toys >= order.ToysOrdered && completed is null && plate.Reported.Outcome == JobOutcome.Completed)
                {
                    completed = plate.Reported.End;
                }
            }

            statuses.Add(new OrderStatus
            {
                Id = order.Id,
                Placed = order.Placed,
                Due = order.Due,
                ToysOrdered = order.ToysOrdered,
                ToysCompleted = toys,
                PrintSeconds = seconds,
                Completed = completed,
            });
        }

        return statuses;
    }

    /// <summary>
    /// The <c>order_kpi</c> totals of the window of <paramref name="window"/> starting at <paramref name="start"/>:
    /// the orders completed in it (before <paramref name="until"/> when given).
    /// </summary>
    public OrderTotals Totals(WindowSpec window, DateTimeOffset start, DateTimeOffset? until = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        var end = window.EndOf(start);
        var totals = default(OrderTotals);
        foreach (var order in Statuses(until))
        {
            if (order.Completed is { } c && c >= start && c < end)
            {
                totals.Add(order);
            }
        }

        return totals;
    }

    /// <summary>The starts of the windows of <paramref name="window"/> in which at least one order completed, in order.</summary>
    public IReadOnlyList<DateTimeOffset> WindowsWithOrders(WindowSpec window, DateTimeOffset? until = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        return Statuses(until).Where(o => o.Completed is not null).Select(o => window.StartOf(o.Completed!.Value)).Distinct().Order().ToArray();
    }
}
