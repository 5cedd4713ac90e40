using PrintFarm.Core.Alerts;
using PrintFarm.Core.Cost;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Notifications;
using PrintFarm.Core.Orders;

namespace PrintFarm.Core.Processing;

/// <summary>Settings of the <see cref="TelemetryProcessor"/>.</summary>
public sealed class TelemetryProcessorOptions
{
    /// <summary>Payloads larger than this are rejected as <c>oversize</c>. Default 1 MiB.</summary>
    public int MaxPayloadBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Events stamped further than this ahead of the receive time are rejected: one printer with a wrong clock
    /// must not drag the watermark into the future and close every window early. Default 5 min.
    /// </summary>
    public TimeSpan MaxClockSkew { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>What one call to <see cref="TelemetryProcessor"/> produced. Reused across calls: the caller clears it.</summary>
public sealed class ProcessorOutput
{
    /// <summary>Line-protocol lines to write.</summary>
    public List<string> Lines { get; } = [];

    /// <summary>Jobs that ended.</summary>
    public List<EndedJob> EndedJobs { get; } = [];

    /// <summary>Jobs that ended after their KPI window had closed (their <c>job</c> point is still written).</summary>
    public List<EndedJob> LateJobs { get; } = [];

    /// <summary>Built-in alerts that fired or resolved (their <c>alert</c> points are in <see cref="Lines"/> too).</summary>
    public List<AlertTransition> Alerts { get; } = [];

    /// <summary>The <c>kpi</c> points encoded into <see cref="Lines"/>, when <see cref="KeepKpiPoints"/> (history import: its summary).</summary>
    public List<KpiPoint> KpiPoints { get; } = [];

    /// <summary>Keep each encoded <c>kpi</c> point in <see cref="KpiPoints"/> too. Default false (the live pipeline needs only the lines).</summary>
    public bool KeepKpiPoints { get; init; }

    /// <summary>Everyday-event notifications to send (jobs ended, printers offline or back), when notifications are on.</summary>
    public List<Notification> Notifications { get; } = [];

    /// <summary>Empties every list.</summary>
    public void Clear()
    {
        KpiPoints.Clear();
        Lines.Clear();
        EndedJobs.Clear();
        LateJobs.Clear();
        Alerts.Clear();
        Notifications.Clear();
    }
}

/// <summary>
/// The whole pure pipeline: topic routing → adapter → job tracking → KPI windows → line protocol. It does no I/O and
/// is not thread-safe: one consumer drives it, message by message, and calls <see cref="Flush"/> on a timer.
/// </summary>
public sealed class TelemetryProcessor
{
    private readonly (TopicPattern Pattern, IPrinterAdapter Adapter)[] _routes;
    private readonly JobTracker _jobs;
    private readonly KpiEngine _kpis;
    private readonly PointEncoder _encoder;
    private readonly TelemetryProcessorOptions _options;
    private readonly List<PrinterEvent> _events = [];
    private readonly List<KpiPoint> _kpiPoints = [];
    private readonly AlertEvaluator? _alerts;
    private readonly List<TimelinePoint> _timelinePoints = [];

    // This flush's timeline points by window, start and printer ("" for the farm) whose OEE fields are not written yet.
    private readonly Dictionary<(string Window, long Start, string Printer), int> _oeeOnKpiLine = [];

    // Per timeline point of a flush: whether its OEE fields went on its kpi line.
    private readonly List<bool> _oeeMerged = [];

    // Topic → route (see Route); bounded, started afresh when full.
    private const int RouteCacheCapacity = 65_536;
    private readonly Dictionary<string, (IPrinterAdapter Adapter, TopicMatch Match)> _routeCache = new(StringComparer.Ordinal);

    // The state of a new processor, for putting everything back when a restore fails part-way.
    private readonly System.Text.Json.Nodes.JsonObject _empty;
    private readonly AlertEvaluatorState? _emptyAlerts;

    /// <summary>Creates the processor; <paramref name="alerts"/>, when given, evaluates the built-in alert rules.</summary>
    public TelemetryProcessor(IEnumerable<IPrinterAdapter> adapters, JobTracker jobs, KpiEngine kpis, PointEncoder encoder, TelemetryProcessorOptions? options = null, AlertEvaluator? alerts = null)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        _alerts = alerts;
        _routes = adapters.SelectMany(a => a.Topics.Select(t => (t, a))).ToArray();
        _jobs = jobs;
        _kpis = kpis;
        _encoder = encoder;
        _options = options ?? new TelemetryProcessorOptions();
        _empty = SaveCheckpoint(DateTimeOffset.UnixEpoch);
        _emptyAlerts = alerts?.SaveState();
    }

    /// <summary>The MQTT subscription filters of every adapter, without duplicates.</summary>
    public IReadOnlyList<string> SubscriptionFilters => _routes.Select(r => r.Pattern.SubscriptionFilter).Concat(Orders is { } o ? [o.SubscriptionFilter] : []).Concat(Reasons?.SubscriptionFilter is { } l ? [l] : []).Concat(Costs?.SubscriptionFilters ?? []).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The job tracker (for inspection and checkpoints).</summary>
    public JobTracker Jobs => _jobs;

    /// <summary>The KPI engine (for inspection and checkpoints).</summary>
    public KpiEngine Kpis => _kpis;

    /// <summary>The alert evaluator, when alerts are on (for inspection).</summary>
    public AlertEvaluator? Alerts => _alerts;

    /// <summary>Caps on distinct printers, toys and materials and the printer allow-list; none when null.</summary>
    public CardinalityGuard? Guard { get; init; }

    /// <summary>Per-printer time in each state and OEE (<c>printer_time</c> points, OEE fields on <c>kpi</c>); none when null.</summary>
    public PrinterTimeline? Timeline { get; init; }

    /// <summary>Orders and on-time delivery (<c>printfarm/orders/{id}</c>); none when null (orders off).</summary>
    public OrderBook? Orders { get; init; }

    /// <summary>Operator labels and the breakdown by reason (<c>kpi_reason</c>); none when null.</summary>
    public ReasonTracker? Reasons
    {
        get => _reasons;
        init
        {
            _reasons = value;
            if (_alerts is not null && value is not null)
            {
                _alerts.TopReason = value.TopReason;
            }
        }
    }

    private readonly ReasonTracker? _reasons;
    private readonly List<ReasonPoint> _reasonPoints = [];

    /// <summary>Metered energy and landed cost (plug topics, <c>energy</c>/<c>cost</c> fields on <c>job</c> and <c>kpi</c>); none when null (off).</summary>
    public CostLedger? Costs { get; init; }

    /// <summary>Decides the everyday-event notifications; none when null (notifications off).</summary>
    public NotificationPlanner? Notifications { get; init; }

    /// <summary>
    /// History import only: no <c>job</c> point for a job that ends at or after this instant, and no <c>kpi</c> point for
    /// a window that ends after it; everything is still computed. Those points belong to the worker that ingests the
    /// farm live from there on. Default none: every point.
    /// </summary>
    public DateTimeOffset? WriteBefore { get; init; }

    /// <summary>
    /// History import: the printer id its events must carry, as a topic's printer id would be (sanitized, then folded by
    /// the guard's cap), or false with the reason when the id is empty or not on the allow-list.
    /// </summary>
    public bool TryAdmitPrinter(string printer, out string admitted, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(printer);
        admitted = TagValue.Clean(printer, string.Empty);
        if (admitted.Length == 0)
        {
            problem = "the printer id is empty once control characters and surrounding spaces are removed";
            return false;
        }

        problem = null;
        if (Guard is { } guard)
        {
            var match = new TopicMatch(admitted, null);
            if (!guard.AdmitPrinter(ref match, out problem))
            {
                return false;
            }

            guard.AdmitPrinter(admitted);
            admitted = match.Printer;
        }

        return true;
    }

    /// <summary>
    /// Applies one canonical event of imported history (a job history row turned into a start and an end) exactly as
    /// the adapters' events are applied, with its own time as the receive time. Its printer id comes from
    /// <see cref="TryAdmitPrinter"/>.
    /// </summary>
    public void Replay(PrinterEvent e, ProcessorOutput output)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(output);
        Apply(e, e.Timestamp, output);
    }

    /// <summary>
    /// Processes one message, appending what it produced to <paramref name="output"/>. Never throws for bad input:
    /// a message that cannot be used comes back as rejected, with a reason, and changes no state.
    /// </summary>
    public AdapterResult Process(in InboundMessage message, ProcessorOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.Payload.Length > _options.MaxPayloadBytes)
        {
            return AdapterResult.Rejected(RejectReasons.Oversize, $"payload is {message.Payload.Length} bytes, the limit is {_options.MaxPayloadBytes}");
        }

        // Order topics first: an order is not a printer event (docs/data-model.md, "Orders").
        if (Orders is { } orders && orders.TryMatchTopic(message.Topic, out var orderId))
        {
            return orders.Receive(orderId, message.Payload, message.ReceivedAt, _kpis.IsWindowClosed);
        }

        // Operator labels: the job's point again, same series and time, new reason fields (docs/operations.md).
        if (_reasons is { } reasons && reasons.TryMatchTopic(message.Topic, out var labelled))
        {
            var labelResult = reasons.Label(labelled, message.Payload, out var relabelled);
            if (relabelled is not null && (WriteBefore is not { } before || relabelled.End < before))
            {
                output.Lines.Add(_encoder.Job(relabelled));
            }

            return labelResult;
        }

        // Smart plugs: energy readings, not printer events (docs/data-model.md, "Energy and landed cost").
        if (Costs is { } costs && costs.IsPlugTopic(message.Topic))
        {
            var reading = costs.Receive(message.Topic, message.Payload.Span, message.ReceivedAt, _options.MaxClockSkew);
            CostLines(output);
            return reading;
        }

        if (!_routeCache.TryGetValue(message.Topic, out var route))
        {
            if (Route(message.Topic) is not { } found)
            {
                return AdapterResult.Rejected(RejectReasons.UnknownTopic, "no adapter's topic pattern matches");
            }

            if (found.Match.Printer.Length == 0)
            {
                return AdapterResult.Rejected(RejectReasons.UnknownTopic, "the printer id in the topic is empty once control characters and surrounding spaces are removed");
            }

            if (_routeCache.Count >= RouteCacheCapacity)
            {
                _routeCache.Clear();
            }

            _routeCache[message.Topic] = route = found;
        }

        var adapter = route.Adapter;
        var match = route.Match;
        if (Guard is { } guard && !guard.AdmitPrinter(ref match, out var problem))
        {
            return AdapterResult.Rejected(CardinalityGuard.UnknownPrinter, problem!);
        }

        _events.Clear();
        var committed = false;
        try
        {
            var result = adapter.Process(message, match, _events);
            if (!result.Accepted)
            {
                return result;
            }

            // Checked before the adapter's staged state is committed: a rejected message changes no state.
            var latest = message.ReceivedAt + _options.MaxClockSkew;
            foreach (var e in _events)
            {
                if (e.Timestamp > latest)
                {
                    return AdapterResult.Rejected(RejectReasons.FutureTimestamp, $"event time {e.Timestamp:O} is more than {_options.MaxClockSkew} after the receive time {message.ReceivedAt:O}");
                }
            }

            adapter.Commit();
            committed = true;
        }
        finally
        {
            if (!committed)
            {
                adapter.Discard();
            }
        }

        // Only an accepted message takes a slot of the printer cap (see CardinalityGuard.AdmitPrinter).
        Guard?.AdmitPrinter(route.Match.Printer);

        foreach (var e in _events)
        {
            Apply(e, message.ReceivedAt, output);
        }

        return AdapterResult.Ok;
    }

    // The adapter and the printer of a topic (the printer id sanitized: docs/data-model.md, "Names"), or null when no
    // pattern matches. A farm has a few topics per printer and every message repeats one: the result is cached.
    private (IPrinterAdapter Adapter, TopicMatch Match)? Route(string topic)
    {
        foreach (var (pattern, candidate) in _routes)
        {
            if (pattern.TryMatch(topic, out var match))
            {
                var printer = TagValue.Clean(match.Printer, string.Empty);
                return (candidate, ReferenceEquals(printer, match.Printer) ? match : match.WithPrinter(printer));
            }
        }

        return null;
    }

    /// <summary>Appends the <c>kpi</c> points of every window that changed since the last flush, and releases closed windows.</summary>
    public void Flush(ProcessorOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _kpiPoints.Clear();
        _kpis.Collect(_kpiPoints);
        _timelinePoints.Clear();
        _oeeOnKpiLine.Clear();
        _oeeMerged.Clear();
        if (Timeline is not null)
        {
            Timeline.Collect(_kpis.Watermark, _timelinePoints);
            for (var i = 0; i < _timelinePoints.Count; i++)
            {
                var point = _timelinePoints[i];
                _oeeOnKpiLine[(point.Window.Name, point.WindowStart.UtcTicks, point.Printer)] = i;
                _oeeMerged.Add(false);
            }
        }

        foreach (var point in _kpiPoints)
        {
            if (WriteBefore is { } cut && point.WindowEnd > cut)
            {
                continue;
            }

            // A printer's or the farm's OEE fields go on its kpi line when both changed in this flush (the usual case:
            // the engine rewrites a running window's utilization as the timeline rewrites its time), one line fewer.
            if (point.Scope is KpiScope.Printer or KpiScope.Farm
                && _oeeOnKpiLine.Remove((point.Window.Name, point.WindowStart.UtcTicks, point.Scope == KpiScope.Printer ? point.Subject : string.Empty), out var t))
            {
                output.Lines.Add(_encoder.KpiWithOee(point, _timelinePoints[t]));
                _oeeMerged[t] = true;
            }
            else
            {
                output.Lines.Add(_encoder.Kpi(point));
            }

            if (output.KeepKpiPoints)
            {
                output.KpiPoints.Add(point);
            }
        }

        for (var i = 0; i < _timelinePoints.Count; i++)
        {
            var point = _timelinePoints[i];
            if (WriteBefore is not { } cut || point.WindowEnd <= cut)
            {
                output.Lines.Add(_encoder.TimeInState(point));
                if (!_oeeMerged[i])
                {
                    output.Lines.Add(_encoder.Oee(point));
                }
            }
        }

        if (_alerts is not null)
        {
            var before = output.Alerts.Count;
            _alerts.Evaluate(_kpiPoints, _kpis.Watermark, output.Alerts);
            AlertLines(output, before);
        }

        if (Orders is not null)
        {
            FlushOrders(output);
        }

        if (_reasons is not null)
        {
            _reasonPoints.Clear();
            _reasons.Collect(_kpis.Watermark, _reasonPoints);
            foreach (var point in _reasonPoints)
            {
                if (WriteBefore is not { } cut || point.WindowEnd <= cut)
                {
                    output.Lines.Add(_encoder.KpiReason(point));
                }
            }
        }

        if (Costs is not null)
        {
            FlushCosts(output);
        }

        // One large flush (the first after a burst or a replay: every window of a big farm at once) must not keep its
        // list for good; a steady flush fills at least a quarter of what is kept.
        if (_kpiPoints.Capacity > 4096 && _kpiPoints.Count * 4 < _kpiPoints.Capacity)
        {
            _kpiPoints.Clear();
            _kpiPoints.TrimExcess();
        }
    }

    private readonly List<OrderStatus> _orderPoints = [];
    private readonly List<OrderWindowPoint> _orderWindowPoints = [];

    private void FlushOrders(ProcessorOutput output)
    {
        _orderPoints.Clear();
        _orderWindowPoints.Clear();
        Orders!.Collect(_kpis.IsWindowClosed, _orderPoints, _orderWindowPoints);
        foreach (var order in _orderPoints)
        {
            output.Lines.Add(_encoder.Order(order));
        }

        foreach (var point in _orderWindowPoints)
        {
            if (WriteBefore is not { } cut || point.Window.EndOf(point.WindowStart) <= cut)
            {
                output.Lines.Add(_encoder.OrderKpi(point));
            }
        }
    }

    /// <summary>The whole state as a checkpoint document (see <see cref="Checkpoint"/>).</summary>
    public System.Text.Json.Nodes.JsonObject SaveCheckpoint(DateTimeOffset savedAt) =>
        CostCheckpoint.Add(ReasonsCheckpoint.Add(Checkpoint.Create(savedAt, _jobs.SaveState(), _kpis.SaveState(), SaveAdapters(), _alerts?.SaveState(), Guard?.SaveState(), Notifications?.SaveState(), Timeline?.SaveState(), Orders?.SaveState()), _reasons?.SaveState()), Costs?.SaveState());

    private readonly List<CostPoint> _costPoints = [];
    private readonly List<JobCost> _jobCosts = [];

    private void FlushCosts(ProcessorOutput output)
    {
        _costPoints.Clear();
        Costs!.Collect(_kpis.Watermark, _costPoints);
        foreach (var point in _costPoints)
        {
            if (WriteBefore is not { } cut || point.Window.EndOf(point.WindowStart) <= cut)
            {
                output.Lines.Add(_encoder.CostKpi(point));
            }
        }
    }

    // Attributes the readings the watermark has passed and writes the energy and cost of the jobs now settled.
    private void CostLines(ProcessorOutput output)
    {
        Costs!.Advance(_kpis.Watermark, _jobCosts);
        foreach (var cost in _jobCosts)
        {
            if (WriteBefore is not { } cut || cost.Job.End < cut)
            {
                output.Lines.Add(_encoder.JobCost(cost));
            }
        }

        _jobCosts.Clear();
    }

    /// <summary>
    /// Captures the state for a checkpoint without building the document: call it between two messages, then write
    /// the snapshot while processing goes on (<see cref="CheckpointSnapshot.WriteTo"/>).
    /// </summary>
    public CheckpointSnapshot CaptureCheckpoint(DateTimeOffset savedAt) => new(savedAt, _jobs.SaveState(), _kpis.SaveState(), SaveAdapters(), _alerts?.SaveState(), Guard?.SaveState(), Notifications?.SaveState(), Timeline?.SaveState()) { Orders = Orders?.SaveState(), Reasons = _reasons?.SaveState(), Cost = Costs?.SaveState() };

    private System.Text.Json.Nodes.JsonObject SaveAdapters()
    {
        var adapters = new System.Text.Json.Nodes.JsonObject();
        foreach (var adapter in _routes.Select(r => r.Adapter).Distinct())
        {
            if (adapter is ICheckpointableAdapter stateful && stateful.SaveState() is { } state)
            {
                adapters[adapter.Source] = state;
            }
        }

        return adapters;
    }

    /// <summary>
    /// Restores a checkpoint made by <see cref="SaveCheckpoint"/>, all or nothing. Returns the number of windows dropped
    /// because their size is no longer configured.
    /// </summary>
    /// <exception cref="CheckpointException">The document is of another version or not a valid checkpoint; nothing was changed.</exception>
    /// <remarks>Any other failure part-way leaves the processor empty and consistent, never half-restored, and is rethrown.</remarks>
    public int RestoreCheckpoint(System.Text.Json.Nodes.JsonObject checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var (jobs, kpis, adapters, alerts, guard, notifications) = Checkpoint.Read(checkpoint);
        var timeline = Checkpoint.ReadTimeline(checkpoint);
        var orders = OrdersCheckpoint.Read(checkpoint);
        var reasons = ReasonsCheckpoint.Read(checkpoint);
        var cost = CostCheckpoint.Read(checkpoint);
        try
        {
            // A checkpoint without reasons (an older build) starts with no labellable jobs and an empty breakdown.
            _reasons?.RestoreState(reasons);
            // A checkpoint without cost state (an older build, or costing off) starts the meter and its windows empty.
            Costs?.RestoreState(cost);
            // A checkpoint without timeline state (an older build, or the timeline off) starts the timeline empty.
            Timeline?.RestoreState(timeline);
            var dropped = Restore(jobs, kpis, adapters, alerts, guard, notifications);
            // A checkpoint without an order book (orders off, or an older build) starts it empty.
            Orders?.RestoreState(orders);
            return dropped;
        }
        catch
        {
            Timeline?.RestoreState(null);
            _reasons?.RestoreState(null);
            var (emptyJobs, emptyKpis, emptyAdapters, emptyAlerts, _, _) = Checkpoint.Read(_empty);
            Restore(emptyJobs, emptyKpis, emptyAdapters, emptyAlerts, null, null);
            Orders?.RestoreState(null);
            Costs?.RestoreState(null);
            throw;
        }
    }

    private int Restore(JobTrackerState jobs, KpiEngineState kpis, System.Text.Json.Nodes.JsonObject? adapters, AlertEvaluatorState? alerts, CardinalityGuardState? guard, NotificationPlannerState? notifications)
    {
        _jobs.RestoreState(jobs);
        // A checkpoint without notification state (notifications were off, or an older build) starts the planner empty.
        Notifications?.RestoreState(notifications);
        // A checkpoint without guard state (an older build) starts the guard empty, as before.
        Guard?.RestoreState(guard);
        // A checkpoint without alert state (alerts were off, or an older build) starts the evaluator empty.
        _alerts?.RestoreState(alerts ?? _emptyAlerts!);

        var dropped = _kpis.RestoreState(kpis);
        foreach (var adapter in _routes.Select(r => r.Adapter).Distinct())
        {
            if (adapter is ICheckpointableAdapter stateful)
            {
                // An adapter without state in the checkpoint starts empty: nothing of what it held before survives.
                stateful.RestoreState(adapters?[adapter.Source]?.DeepClone() ?? new System.Text.Json.Nodes.JsonObject());
            }
        }

        return dropped;
    }

    // Internal for the engine benchmark, which feeds canonical events without parsing.
    internal void Apply(PrinterEvent e, DateTimeOffset receivedAt, ProcessorOutput output)
    {
        if (e.Maintenance is { } maintenance)
        {
            // An operator's switch: time accounting only, not a printer's clock (it must not hold the watermark back).
            Timeline?.SetMaintenance(e.Printer, e.Timestamp, maintenance);
            return;
        }

        if (e.EnergyKwh is { } counter)
        {
            // A printer's own energy counter: a reading for the meter, and the printer's clock like any event.
            _kpis.Observe(e.Source, e.Printer, e.Timestamp, receivedAt);
            if (Costs is not null)
            {
                Costs.ReadNative(e.Printer, e.Timestamp, counter);
                CostLines(output);
            }

            return;
        }

        Timeline?.Observe(e);
        if (e.ReceiveTimeOnly)
        {
            _kpis.ObserveReceipt(e.Source, e.Printer, receivedAt);
        }
        else
        {
            _kpis.Observe(e.Source, e.Printer, e.Timestamp, receivedAt);
        }

        // Windows close where the engine's watermark passes them in the journal, not where a flush happens to fall.
        Timeline?.Advance(_kpis.Watermark);

        var endedBefore = output.EndedJobs.Count;
        var alertsBefore = output.Alerts.Count;

        // Only for the rare events that can end a job: the progress it had reached, for a failed job's notification.
        var progressBefore = Notifications is not null && e.Kind is EventKind.JobStarted or EventKind.JobFinished ? _jobs.GetOpenJob(e.Printer)?.LastProgressPercent : null;
        var opened = _jobs.Apply(e, output.EndedJobs);
        if (_encoder.Printer(e) is { } line)
        {
            output.Lines.Add(line);
        }

        for (var i = endedBefore; i < output.EndedJobs.Count; i++)
        {
            var job = output.EndedJobs[i] = Guard is null ? output.EndedJobs[i] : Guard.Fold(output.EndedJobs[i]);
            if (WriteBefore is not { } cut || job.End < cut)
            {
                output.Lines.Add(_encoder.Job(job));
            }

            Timeline?.AddJob(job);
            if (_kpis.AddJob(job, receivedAt) > 0)
            {
                output.LateJobs.Add(job);
            }

            Orders?.AddJob(job, _kpis.IsWindowClosed);
            _reasons?.AddJob(job, _kpis.IsWindowClosed);
            Costs?.JobEnded(job, _jobCosts);
        }

        // After the ended jobs, so a job replaced by a new start settles its printing time first.
        if (opened is not null)
        {
            _kpis.JobOpened(e.Printer, opened.Start);
            Costs?.JobOpened(e.Printer, opened.Start);
        }

        if (Costs is not null)
        {
            CostLines(output);
        }

        if (_alerts is not null)
        {
            var before = output.Alerts.Count;
            _alerts.Observe(e.Printer, receivedAt, _jobs.GetOpenJob(e.Printer) is not null, output.Alerts);
            AlertLines(output, before);
        }

        if (Orders is { } orders)
        {
            // In message order, at fixed event-time ticks: the same messages give the same at-risk alerts.
            var before = output.Alerts.Count;
            orders.Advance(_kpis.Watermark, output.Alerts);
            AlertLines(output, before);
        }

        Notifications?.Apply(e, receivedAt, progressBefore, output.EndedJobs, endedBefore, output.Alerts, alertsBefore, output.Notifications);
    }

    private void AlertLines(ProcessorOutput output, int from)
    {
        for (var i = from; i < output.Alerts.Count; i++)
        {
            output.Lines.Add(_encoder.Alert(output.Alerts[i]));
        }
    }
}
