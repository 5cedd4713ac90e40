using System.Globalization;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Orders;

/// <summary>Settings of the <see cref="OrderBook"/>.</summary>
public sealed class OrderBookOptions
{
    /// <summary>Whether the worker reads orders at all (<c>PrintFarm:Orders:Enabled</c>). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Orders arrive on <c>{TopicPrefix}/{id}</c>, retained. Default <c>printfarm/orders</c>.</summary>
    public string TopicPrefix { get; set; } = "printfarm/orders";

    /// <summary>How often, in event time, open orders are judged for the at-risk alert. Default 15 min.</summary>
    public TimeSpan AtRiskCheckEvery { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The farm's recent rate is the printing time of completed jobs over this much event time. Default 24 h.</summary>
    public TimeSpan RecentRateWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Null when valid, otherwise the key and what is allowed (keys relative to <c>PrintFarm:Orders</c>).</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.AsSpan().IndexOfAny('+', '#') >= 0 || TopicPrefix.StartsWith('/'))
        {
            yield return $"TopicPrefix is '{TopicPrefix}': must be an MQTT topic without wildcards, such as printfarm/orders";
        }

        if (AtRiskCheckEvery < TimeSpan.FromMinutes(1) || AtRiskCheckEvery > TimeSpan.FromDays(1))
        {
            yield return $"AtRiskCheckEvery is '{AtRiskCheckEvery}': must be between 00:01:00 and 1.00:00:00";
        }

        if (RecentRateWindow < TimeSpan.FromHours(1) || RecentRateWindow > TimeSpan.FromDays(30))
        {
            yield return $"RecentRateWindow is '{RecentRateWindow}': must be between 01:00:00 and 30.00:00:00";
        }
    }
}

/// <summary>Aggregates of the orders completed in one window. Raw sums only; the ratios are read from them.</summary>
public struct OrderTotals
{
    /// <summary>Orders completed in the window.</summary>
    public long OrdersCompleted { get; set; }

    /// <summary>Of those, orders completed at or before their due time.</summary>
    public long OrdersOnTime { get; set; }

    /// <summary>Toys ordered by those orders (all delivered).</summary>
    public long Toys { get; set; }

    /// <summary>Printing time attributed to those orders (every attempt: failed prints included), seconds.</summary>
    public double PrintSeconds { get; set; }

    /// <summary>Sum of those orders' lead times (completed − placed), seconds.</summary>
    public double LeadSeconds { get; set; }

    /// <summary>On-time delivery rate: <see cref="OrdersOnTime"/> ÷ <see cref="OrdersCompleted"/>, 0–1; null while none completed.</summary>
    public readonly double? OnTimeRate => OrdersCompleted > 0 ? (double)OrdersOnTime / OrdersCompleted : null;

    /// <summary>Production time per toy: <see cref="PrintSeconds"/> ÷ <see cref="Toys"/>, seconds; null while none completed.</summary>
    public readonly double? PrintSecondsPerToy => Toys > 0 ? PrintSeconds / Toys : null;

    /// <summary>Production time per order: <see cref="PrintSeconds"/> ÷ <see cref="OrdersCompleted"/>, seconds.</summary>
    public readonly double? PrintSecondsPerOrder => OrdersCompleted > 0 ? PrintSeconds / OrdersCompleted : null;

    /// <summary>Mean lead time: <see cref="LeadSeconds"/> ÷ <see cref="OrdersCompleted"/>, seconds.</summary>
    public readonly double? LeadSecondsPerOrder => OrdersCompleted > 0 ? LeadSeconds / OrdersCompleted : null;

    /// <summary>Adds one completed order.</summary>
    public void Add(OrderStatus order)
    {
        ArgumentNullException.ThrowIfNull(order);
        OrdersCompleted++;
        OrdersOnTime += order.OnTime == true ? 1 : 0;
        Toys += order.ToysOrdered;
        PrintSeconds += order.PrintSeconds;
        LeadSeconds += (order.Completed!.Value - order.Placed).TotalSeconds;
    }
}

/// <summary>An order as it stands: the <c>order</c> point.</summary>
public sealed record OrderStatus
{
    /// <summary>Order id.</summary>
    public required string Id { get; init; }

    /// <summary>When it was placed (the point's timestamp, so each update overwrites the same point).</summary>
    public required DateTimeOffset Placed { get; init; }

    /// <summary>When it is due.</summary>
    public required DateTimeOffset Due { get; init; }

    /// <summary>Toys ordered, every line.</summary>
    public required long ToysOrdered { get; init; }

    /// <summary>Toys delivered to it so far (each counted once, at most the line's quantity).</summary>
    public required long ToysCompleted { get; init; }

    /// <summary>Printing time attributed to it, seconds (failed attempts included).</summary>
    public required double PrintSeconds { get; init; }

    /// <summary>When its last toy was delivered; null while open.</summary>
    public DateTimeOffset? Completed { get; init; }

    /// <summary>True when it was withdrawn before it completed.</summary>
    public bool Withdrawn { get; init; }

    /// <summary>True while the at-risk alert fires for it.</summary>
    public bool AtRisk { get; init; }

    /// <summary>Completed at or before <see cref="Due"/>; null while open.</summary>
    public bool? OnTime => Completed is { } c ? c <= Due : null;

    /// <summary><c>open</c>, <c>completed</c> or <c>withdrawn</c>.</summary>
    public string StatusName => Completed is not null ? "completed" : Withdrawn ? "withdrawn" : "open";
}

/// <summary>One window's order aggregates, for the <c>order_kpi</c> point.</summary>
/// <param name="Window">Window size.</param>
/// <param name="WindowStart">Window start (the point's timestamp).</param>
/// <param name="Totals">The orders completed in it.</param>
public readonly record struct OrderWindowPoint(WindowSpec Window, DateTimeOffset WindowStart, OrderTotals Totals);

/// <summary>
/// Orders and on-time delivery: the one place their rules and formulas live (docs/kpis.md, "Orders and on-time
/// delivery"). Pure and event-time based: it reads no clock; the same messages in the same order give the same book.
/// </summary>
/// <remarks>
/// <para>Linking. A completed job's toys go first to the order its file names (<see cref="OrderLink"/>), when that
/// order is open and has a line for the toy (and material) with toys still to make; the rest, and the toys of jobs that
/// name no order, go first-in-first-out: to the open orders by placed time, then id (ordinal), each matching line
/// taking what it still needs. Toys nobody ordered are counted as surplus and kept for no one.</para>
/// <para>A failed or cancelled job completes no toy; its printing time is attributed to the orders its toys would have
/// gone to, so an order's production time includes the prints that had to be repeated, and the reprint's toys are
/// the ones counted.</para>
/// <para>An order completes at the end of the job that delivered its last toy; it is on time when that is at or before
/// its due time. It counts in the window (of each configured size) containing that instant.</para>
/// </remarks>
public sealed class OrderBook
{
    /// <summary>The <c>rule</c> of the at-risk alert.</summary>
    public const string AtRiskRule = "order_at_risk";

    private readonly OrderBookOptions _options;
    private readonly WindowSpec[] _specs;
    private readonly string _topicStart;
    private Dictionary<string, Order> _orders = new(StringComparer.Ordinal);
    private List<Order> _open = [];
    private Dictionary<(int Spec, long Start), OrderTotals> _windows = [];
    private HashSet<(int Spec, long Start)> _dirtyWindows = [];
    private HashSet<string> _dirtyOrders = new(StringComparer.Ordinal);
    private Dictionary<string, double> _toySeconds = new(StringComparer.OrdinalIgnoreCase);
    private SortedDictionary<long, double> _recent = [];
    private long _firstJobEnd = long.MaxValue;
    private long _nextCheck = long.MinValue;

    // Orders that completed or were withdrawn while their at-risk alert fired: resolved at the next Advance.
    private readonly List<Order> _atRiskClosed = [];

    /// <summary>Creates an empty book that aggregates over <paramref name="windows"/> (the KPI engine's sizes).</summary>
    public OrderBook(IReadOnlyList<WindowSpec> windows, OrderBookOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        _options = options ?? new OrderBookOptions();
        if (_options.AtRiskCheckEvery <= TimeSpan.Zero || _options.RecentRateWindow <= TimeSpan.Zero)
        {
            throw new ArgumentException("AtRiskCheckEvery and RecentRateWindow must be positive", nameof(options));
        }

        _specs = windows.Distinct().ToArray();
        _topicStart = _options.TopicPrefix.TrimEnd('/') + "/";
    }

    /// <summary>The MQTT subscription filter of order messages.</summary>
    public string SubscriptionFilter => _topicStart + "+";

    /// <summary>Orders known (open, completed or withdrawn).</summary>
    public int Count => _orders.Count;

    /// <summary>Orders still open.</summary>
    public int OpenCount => _open.Count;

    /// <summary>Completed toys no open order needed.</summary>
    public long SurplusToys { get; private set; }

    /// <summary>Orders that completed in a window that had already closed (counted on the order, not in the window).</summary>
    public long LateCompletions { get; private set; }

    /// <summary>The order's current status, or null when unknown.</summary>
    public OrderStatus? Get(string id) => _orders.TryGetValue(id, out var o) ? o.Status() : null;

    /// <summary>True when <paramref name="topic"/> is an order topic; <paramref name="id"/> is its last level.</summary>
    public bool TryMatchTopic(string topic, out string id)
    {
        ArgumentNullException.ThrowIfNull(topic);
        id = string.Empty;
        if (!topic.StartsWith(_topicStart, StringComparison.Ordinal) || topic.Length == _topicStart.Length || topic.IndexOf('/', _topicStart.Length) >= 0)
        {
            return false;
        }

        id = Normalization.TagValue.Clean(topic[_topicStart.Length..], string.Empty);
        return true;
    }

    /// <summary>
    /// Applies one order message: a new order, an update of an open one (due time and lines replaced; toys delivered so
    /// far kept, up to the new quantities), or its withdrawal. A message for a completed or withdrawn order changes
    /// nothing (a completed order is final: more toys are a new order). Never throws for bad input; a rejected message
    /// changes nothing.
    /// </summary>
    public AdapterResult Receive(string id, ReadOnlyMemory<byte> payload, DateTimeOffset receivedAt, Func<WindowSpec, DateTimeOffset, bool> isClosed)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(isClosed);
        if (id.Length == 0)
        {
            return AdapterResult.Rejected(RejectReasons.UnknownTopic, "the order id in the topic is empty once control characters and surrounding spaces are removed");
        }

        var result = OrderReader.Read(id, payload, receivedAt, out var report);
        if (!result.Accepted)
        {
            return result;
        }

        Apply(report!, isClosed);
        return AdapterResult.Ok;
    }

    /// <summary>
    /// Validates one order message as <see cref="Receive"/> would, without touching any book: what another transport (the
    /// worker's HTTP endpoint) answers its caller before the message takes the same path as an MQTT one.
    /// </summary>
    public static AdapterResult Check(string id, ReadOnlyMemory<byte> payload, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(id);
        return Normalization.TagValue.Clean(id, string.Empty).Length == 0
            ? AdapterResult.Rejected(RejectReasons.UnknownTopic, "the order id is empty once control characters and surrounding spaces are removed")
            : OrderReader.Read(id, payload, receivedAt, out _);
    }

    internal void Apply(OrderReport report, Func<WindowSpec, DateTimeOffset, bool> isClosed)
    {
        if (_orders.TryGetValue(report.Id, out var known))
        {
            if (known.Closed)
            {
                return;
            }

            if (report.Withdrawn)
            {
                known.Withdrawn = true;
                _open.Remove(known);
                _dirtyOrders.Add(known.Id);
                if (known.AtRisk)
                {
                    _atRiskClosed.Add(known);
                }

                return;
            }

            var lines = report.Lines.Select(l => new Line(l)).ToList();
            foreach (var line in lines)
            {
                var old = known.Lines.Find(o => o.Matches(line.Toy, line.Material) && o.Material == line.Material);
                line.Completed = Math.Min(line.Quantity, old?.Completed ?? 0);
            }

            known.Lines = lines;
            known.Due = report.Due.UtcTicks;
            _dirtyOrders.Add(known.Id);
            if (known.Remaining == 0)
            {
                // Fewer toys are now needed than were already delivered: complete when the last of them was.
                Complete(known, known.LastDelivery ?? report.Placed.UtcTicks, isClosed);
            }

            return;
        }

        if (report.Withdrawn)
        {
            // Withdrawing an order never seen: remember the id, so a late copy of the order does not open it.
            _orders[report.Id] = new Order(report.Id, report.Placed.UtcTicks, report.Placed.UtcTicks, []) { Withdrawn = true };
            _dirtyOrders.Add(report.Id);
            return;
        }

        var order = new Order(report.Id, report.Placed.UtcTicks, report.Due.UtcTicks, report.Lines.Select(l => new Line(l)).ToList());
        _orders[order.Id] = order;
        InsertOpen(order);
        _dirtyOrders.Add(order.Id);
    }

    /// <summary>
    /// Takes an ended job: a completed job's toys are delivered to orders (see the remarks), a failed or cancelled job's
    /// printing time is attributed to the orders it printed for. <paramref name="isClosed"/> says whether a window has
    /// closed (the KPI engine's <see cref="KpiEngine.IsWindowClosed"/>).
    /// </summary>
    public void AddJob(EndedJob job, Func<WindowSpec, DateTimeOffset, bool> isClosed)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(isClosed);
        if (job.Outcome == JobOutcome.Completed)
        {
            NoteRate(job);
        }

        var toys = job.Quantity;
        var delivered = job.ToysCompleted > 0;
        var linked = OrderLink.FromFile(job.File) is { } id && _orders.TryGetValue(id, out var o) && !o.Closed ? o : null;
        if (linked is not null)
        {
            toys -= Take(linked, job, toys, delivered, isClosed);
        }

        for (var i = 0; i < _open.Count && toys > 0; i++)
        {
            var order = _open[i];
            if (!ReferenceEquals(order, linked))
            {
                var took = Take(order, job, toys, delivered, isClosed);
                toys -= took;
                if (took > 0 && order.Closed)
                {
                    i--;
                }
            }
        }

        if (delivered && toys > 0)
        {
            SurplusToys += toys;
        }
    }

    // Gives up to `toys` of the job's toys to the order's matching lines; returns how many it took. Not delivered (a
    // failed job): nothing is counted, only the printing time share is attributed.
    private int Take(Order order, EndedJob job, int toys, bool delivered, Func<WindowSpec, DateTimeOffset, bool> isClosed)
    {
        var took = 0;
        foreach (var line in order.Lines)
        {
            if (toys - took == 0)
            {
                break;
            }

            if (!line.Matches(job.Toy, job.Material))
            {
                continue;
            }

            var take = Math.Min(toys - took, line.Quantity - line.Completed);
            if (take <= 0)
            {
                continue;
            }

            took += take;
            if (delivered)
            {
                line.Completed += take;
            }
        }

        if (took == 0)
        {
            return 0;
        }

        order.PrintSeconds += job.PrintTimeSeconds * took / job.Quantity;
        _dirtyOrders.Add(order.Id);
        if (delivered)
        {
            order.LastDelivery = Math.Max(order.LastDelivery ?? long.MinValue, job.End.UtcTicks);
            if (order.Remaining == 0)
            {
                Complete(order, job.End.UtcTicks, isClosed);
            }
        }

        return took;
    }

    private void Complete(Order order, long at, Func<WindowSpec, DateTimeOffset, bool> isClosed)
    {
        order.Completed = at;
        _open.Remove(order);
        _dirtyOrders.Add(order.Id);
        if (order.AtRisk)
        {
            _atRiskClosed.Add(order);
        }

        var status = order.Status();
        var time = new DateTimeOffset(at, TimeSpan.Zero);
        var late = false;
        for (var i = 0; i < _specs.Length; i++)
        {
            var start = _specs[i].StartOf(time);
            if (isClosed(_specs[i], time))
            {
                late = true;
                continue;
            }

            var key = (i, start.UtcTicks);
            _windows.TryGetValue(key, out var totals);
            totals.Add(status);
            _windows[key] = totals;
            _dirtyWindows.Add(key);
        }

        if (late)
        {
            LateCompletions++;
        }
    }

    // The farm's recent rate: seconds per toy of each toy (an exponentially weighted mean, newest job weighing 1/4), and
    // completed printing time per hour bucket of event time, for RecentRateWindow.
    private void NoteRate(EndedJob job)
    {
        var perToy = job.PrintTimeSeconds / job.Quantity;
        _toySeconds[job.Toy] = _toySeconds.TryGetValue(job.Toy, out var mean) ? mean + ((perToy - mean) / 4) : perToy;
        var hour = job.End.UtcTicks - (job.End.UtcTicks % TimeSpan.TicksPerHour);
        _recent[hour] = _recent.GetValueOrDefault(hour) + job.PrintTimeSeconds;
        _firstJobEnd = Math.Min(_firstJobEnd, job.End.UtcTicks);
    }

    /// <summary>
    /// Judges the open orders each time event time (<paramref name="watermark"/>) passes a multiple of
    /// <see cref="OrderBookOptions.AtRiskCheckEvery"/>, appending alert transitions. An order is at risk when, with the
    /// open orders before it (first-in-first-out) served first, its remaining toys at each toy's recent printing time per
    /// toy and the farm's recent completed printing hours per hour would finish after its due time. The alert resolves
    /// when the projection is back within the due time, or the order completes or is withdrawn.
    /// </summary>
    public void Advance(DateTimeOffset? watermark, List<AlertTransition> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ResolveClosed(watermark, output);
        if (watermark is not { } now)
        {
            return;
        }

        var every = _options.AtRiskCheckEvery.Ticks;
        var tick = now.UtcTicks - (now.UtcTicks % every);
        if (_nextCheck == long.MinValue)
        {
            _nextCheck = tick;
        }

        if (now.UtcTicks < _nextCheck)
        {
            return;
        }

        var at = new DateTimeOffset(tick, TimeSpan.Zero);
        _nextCheck = tick + every;
        var rate = RecentRate(tick);
        var queued = 0.0;
        foreach (var order in _open)
        {
            var remaining = RemainingSeconds(order);
            if (remaining is null || rate is not > 0)
            {
                continue;
            }

            queued += remaining.Value;
            var finish = tick + (long)(queued / rate.Value * TimeSpan.TicksPerSecond);
            var atRisk = finish > order.Due;
            if (atRisk == order.AtRisk)
            {
                continue;
            }

            order.AtRisk = atRisk;
            _dirtyOrders.Add(order.Id);
            var hoursOver = TimeSpan.FromTicks(finish - order.Due).TotalHours;
            output.Add(new AlertTransition(
                AtRiskRule,
                KpiScope.Order,
                order.Id,
                atRisk ? AlertState.Firing : AlertState.Resolved,
                at,
                hoursOver,
                null,
                0,
                atRisk
                    ? string.Create(CultureInfo.InvariantCulture, $"Order {order.Id} is at risk: {order.Remaining} toys left would finish about {hoursOver:0.#} h after its due time {new DateTimeOffset(order.Due, TimeSpan.Zero):yyyy-MM-dd HH:mm} UTC at the farm's recent rate.")
                    : string.Create(CultureInfo.InvariantCulture, $"Order {order.Id} is back on track for its due time {new DateTimeOffset(order.Due, TimeSpan.Zero):yyyy-MM-dd HH:mm} UTC.")));
        }
    }

    // Completed or withdrawn orders whose alert still fires resolve at once (at the watermark, or their completion).
    private void ResolveClosed(DateTimeOffset? watermark, List<AlertTransition> output)
    {
        if (_atRiskClosed.Count == 0)
        {
            return;
        }

        foreach (var order in _atRiskClosed)
        {
            order.AtRisk = false;
            _dirtyOrders.Add(order.Id);
            var at = order.Completed is { } c ? new DateTimeOffset(c, TimeSpan.Zero) : watermark ?? new DateTimeOffset(order.Placed, TimeSpan.Zero);
            output.Add(new AlertTransition(
                AtRiskRule,
                KpiScope.Order,
                order.Id,
                AlertState.Resolved,
                at,
                null,
                null,
                0,
                order.Completed is not null
                    ? string.Create(CultureInfo.InvariantCulture, $"Order {order.Id} completed {(order.Completed <= order.Due ? "on time" : "late")}.")
                    : string.Create(CultureInfo.InvariantCulture, $"Order {order.Id} was withdrawn.")));
        }

        _atRiskClosed.Clear();
    }

    // Printing seconds per hour of event time over the recent window ending at `now`: how many printers' worth of
    // completed printing the farm delivers. Null before any completed job.
    private double? RecentRate(long now)
    {
        if (_firstJobEnd == long.MaxValue)
        {
            return null;
        }

        var from = now - _options.RecentRateWindow.Ticks;
        while (_recent.Count > 0 && _recent.First().Key + TimeSpan.TicksPerHour <= from)
        {
            _recent.Remove(_recent.First().Key);
        }

        var seconds = _recent.Where(kv => kv.Key < now).Sum(kv => kv.Value);
        var span = Math.Max(TimeSpan.TicksPerHour, now - Math.Max(from, _firstJobEnd - (_firstJobEnd % TimeSpan.TicksPerHour)));
        return seconds / TimeSpan.FromTicks(span).TotalSeconds;
    }

    // Printing seconds the order still needs: remaining toys × each toy's recent seconds per toy (the mean over all toys
    // when the toy has not been printed yet). Null when nothing has been printed at all.
    private double? RemainingSeconds(Order order)
    {
        if (_toySeconds.Count == 0)
        {
            return null;
        }

        var fallback = _toySeconds.Values.Average();
        var seconds = 0.0;
        foreach (var line in order.Lines)
        {
            seconds += (line.Quantity - line.Completed) * _toySeconds.GetValueOrDefault(line.Toy, fallback);
        }

        return seconds;
    }

    /// <summary>
    /// Appends the orders and the windows that changed since the last call, then releases windows that have closed
    /// (their last change was appended just before).
    /// </summary>
    public void Collect(Func<WindowSpec, DateTimeOffset, bool> isClosed, List<OrderStatus> orders, List<OrderWindowPoint> windows)
    {
        ArgumentNullException.ThrowIfNull(isClosed);
        ArgumentNullException.ThrowIfNull(orders);
        ArgumentNullException.ThrowIfNull(windows);
        foreach (var id in _dirtyOrders.Order(StringComparer.Ordinal))
        {
            orders.Add(_orders[id].Status());
        }

        _dirtyOrders.Clear();
        foreach (var key in _dirtyWindows.Order())
        {
            windows.Add(new OrderWindowPoint(_specs[key.Spec], new DateTimeOffset(key.Start, TimeSpan.Zero), _windows[key]));
        }

        _dirtyWindows.Clear();
        foreach (var key in _windows.Keys.Where(k => isClosed(_specs[k.Spec], new DateTimeOffset(k.Start, TimeSpan.Zero))).ToList())
        {
            _windows.Remove(key);
        }
    }

    private void InsertOpen(Order order)
    {
        var index = _open.BinarySearch(order, FifoOrder.Instance);
        _open.Insert(index < 0 ? ~index : index, order);
    }

    /// <summary>Everything needed to carry on after a restart: every order, open windows and the recent rate.</summary>
    public OrderBookState SaveState() => new()
    {
        Orders = _orders.Values.OrderBy(o => o.Id, StringComparer.Ordinal).Select(o => new OrderBookState.OrderState
        {
            Id = o.Id,
            Placed = o.Placed,
            Due = o.Due,
            Lines = o.Lines.Select(l => new OrderBookState.LineState { Toy = l.Toy, Material = l.Material, Quantity = l.Quantity, Completed = l.Completed }).ToList(),
            PrintSeconds = o.PrintSeconds,
            Completed = o.Completed,
            LastDelivery = o.LastDelivery,
            Withdrawn = o.Withdrawn,
            AtRisk = o.AtRisk,
        }).ToList(),
        Windows = _windows.Select(kv => new OrderBookState.WindowState { Window = _specs[kv.Key.Spec].Name, Start = kv.Key.Start, Totals = kv.Value }).ToList(),
        ToySeconds = new Dictionary<string, double>(_toySeconds, StringComparer.Ordinal),
        Recent = _recent.Select(kv => new OrderBookState.HourState { Hour = kv.Key, Seconds = kv.Value }).ToList(),
        FirstJobEnd = _firstJobEnd == long.MaxValue ? null : _firstJobEnd,
        NextCheck = _nextCheck == long.MinValue ? null : _nextCheck,
        SurplusToys = SurplusToys,
        LateCompletions = LateCompletions,
    };

    /// <summary>
    /// Replaces the book with a saved one, or empties it when <paramref name="state"/> is null (a checkpoint written
    /// before orders existed). Built aside and swapped in whole. Every order and window is marked changed.
    /// </summary>
    public void RestoreState(OrderBookState? state)
    {
        var orders = new Dictionary<string, Order>(StringComparer.Ordinal);
        var open = new List<Order>();
        var windows = new Dictionary<(int Spec, long Start), OrderTotals>();
        foreach (var o in state?.Orders ?? [])
        {
            var order = new Order(o.Id, o.Placed, o.Due, o.Lines.Select(l => new Line(l.Toy, l.Quantity, l.Material) { Completed = l.Completed }).ToList())
            {
                PrintSeconds = o.PrintSeconds,
                Completed = o.Completed,
                LastDelivery = o.LastDelivery,
                Withdrawn = o.Withdrawn,
                AtRisk = o.AtRisk,
            };
            orders[order.Id] = order;
            if (!order.Closed)
            {
                open.Add(order);
            }
        }

        open.Sort(FifoOrder.Instance);
        foreach (var w in state?.Windows ?? [])
        {
            var spec = Array.FindIndex(_specs, s => s.Name == w.Window);
            if (spec >= 0)
            {
                windows[(spec, w.Start)] = w.Totals;
            }
        }

        _orders = orders;
        _open = open;
        _windows = windows;
        _dirtyOrders = new HashSet<string>(orders.Keys, StringComparer.Ordinal);
        _dirtyWindows = [.. windows.Keys];
        _toySeconds = new Dictionary<string, double>(state?.ToySeconds ?? [], StringComparer.OrdinalIgnoreCase);
        _recent = new SortedDictionary<long, double>((state?.Recent ?? []).ToDictionary(h => h.Hour, h => h.Seconds));
        _firstJobEnd = state?.FirstJobEnd ?? long.MaxValue;
        _nextCheck = state?.NextCheck ?? long.MinValue;
        SurplusToys = state?.SurplusToys ?? 0;
        LateCompletions = state?.LateCompletions ?? 0;
        _atRiskClosed.Clear();
        _atRiskClosed.AddRange(orders.Values.Where(o => o.Closed && o.AtRisk).OrderBy(o => o.Id, StringComparer.Ordinal));
    }

    private sealed class FifoOrder : IComparer<Order>
    {
        public static readonly FifoOrder Instance = new();

        public int Compare(Order? x, Order? y)
        {
            var byPlaced = x!.Placed.CompareTo(y!.Placed);
            return byPlaced != 0 ? byPlaced : string.CompareOrdinal(x.Id, y.Id);
        }
    }

    private sealed class Line(string toy, int quantity, string? material)
    {
        public Line(OrderLine line)
            : this(line.Toy, line.Quantity, line.Material)
        {
        }

        public string Toy { get; } = toy;

        public int Quantity { get; } = quantity;

        public string? Material { get; } = material;

        public int Completed { get; set; }

        public bool Matches(string toy, string? material) =>
            string.Equals(Toy, toy, StringComparison.OrdinalIgnoreCase) && (Material is null || string.Equals(Material, material, StringComparison.OrdinalIgnoreCase));
    }

    private sealed class Order(string id, long placed, long due, List<Line> lines)
    {
        public string Id { get; } = id;

        public long Placed { get; } = placed;

        public long Due { get; set; } = due;

        public List<Line> Lines { get; set; } = lines;

        public double PrintSeconds { get; set; }

        public long? Completed { get; set; }

        public long? LastDelivery { get; set; }

        public bool Withdrawn { get; set; }

        public bool AtRisk { get; set; }

        public bool Closed => Completed is not null || Withdrawn;

        public int Remaining => Lines.Sum(l => l.Quantity - l.Completed);

        public OrderStatus Status() => new()
        {
            Id = Id,
            Placed = new DateTimeOffset(Placed, TimeSpan.Zero),
            Due = new DateTimeOffset(Due, TimeSpan.Zero),
            ToysOrdered = Lines.Sum(l => (long)l.Quantity),
            ToysCompleted = Lines.Sum(l => (long)l.Completed),
            PrintSeconds = PrintSeconds,
            Completed = Completed is { } c ? new DateTimeOffset(c, TimeSpan.Zero) : null,
            Withdrawn = Withdrawn,
            AtRisk = AtRisk,
        };
    }
}
