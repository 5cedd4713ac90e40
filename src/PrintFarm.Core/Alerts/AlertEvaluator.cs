using System.Globalization;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Alerts;

/// <summary>
/// The built-in alert rules, evaluated on the KPI engine's own windows. Pure: no clock, no I/O; every time it reads is
/// an event time (window bounds, the watermark) or a receive time of a message, so replaying the same messages gives
/// the same transitions.
/// </summary>
/// <remarks>
/// <para>Window rules (drops against a baseline, fixed thresholds) judge <i>closed</i> windows only: a closed window
/// never changes again, so a rule never fires on half an hour's data and a flush's timing cannot change a decision.
/// Each time the watermark closes a window, every subject is judged over the recent range ending at that window's
/// end (default the last 3 closed hourly windows) against the baseline range just before it (default 7 days). Both
/// ranges add the windows' raw sums (<see cref="KpiTotals.Add(in KpiTotals)"/>) and read the ratio from the sum, so a
/// busy hour weighs more than a quiet one.</para>
/// <para>Hysteresis: a rule fires when the value crosses its line and resolves only once it is back past the line by
/// the hysteresis margin. Below the minimum volume a subject is not judged and keeps its state.</para>
/// <para>A printer with an open job that sends nothing for <see cref="AlertRuleOptions.StoppedReportingAfter"/>, by
/// receive time against the newest message of any printer, fires <c>printer_stopped_reporting</c>; its next message
/// resolves it. While the whole farm is silent nothing advances that clock, so the rule cannot fire then.</para>
/// </remarks>
public sealed class AlertEvaluator
{
    private readonly AlertRuleOptions _options;
    private readonly WindowSpec _spec;
    private readonly long _lateness;
    private readonly long _recent;
    private readonly long _baseline;
    private readonly HashSet<KpiScope> _dropScopes;
    private readonly HashSet<KpiScope> _thresholdScopes;
    private readonly long _stoppedAfter;
    private Dictionary<(KpiScope Scope, string Subject), SortedDictionary<long, KpiTotals>> _series = [];
    private HashSet<AlertKey> _firing = [];
    private Dictionary<string, PrinterClock> _printers = new(StringComparer.Ordinal);
    private long _evaluatedUntil = long.MinValue;
    private long _latestReceived = long.MinValue;
    private long _nextStoppedCheck = long.MaxValue;

    /// <summary>
    /// Creates an evaluator; <paramref name="allowedLateness"/> is the KPI engine's, which decides when a window is
    /// closed. <paramref name="printersOnly"/> (a clustered-mode partition, which sees only part of the farm, toys and
    /// materials) leaves the farm-, toy- and material-scope rules out, whatever the scopes configured;
    /// <paramref name="farmWideOnly"/> (the clustered mode's farm alert stage, fed the partitions' merged sums) leaves
    /// the printer-scope rules out.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="AlertRuleOptions.Validate"/>).</exception>
    public AlertEvaluator(AlertRuleOptions options, TimeSpan allowedLateness, bool printersOnly = false, bool farmWideOnly = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        if (!WindowSpec.TryParse(options.Window, out var spec) || spec!.Size >= TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"'{options.Window}' is not a sub-day window size", nameof(options));
        }

        _spec = spec;
        _lateness = allowedLateness.Ticks;
        _recent = options.RecentRange.Ticks;
        _baseline = options.BaselineRange.Ticks;
        _dropScopes = [.. options.EffectiveDropScopes.Where(s => (!printersOnly || s == KpiScope.Printer) && (!farmWideOnly || s != KpiScope.Printer))];
        _thresholdScopes = [.. options.EffectiveThresholdScopes.Where(s => (!printersOnly || s == KpiScope.Printer) && (!farmWideOnly || s != KpiScope.Printer))];
        _stoppedAfter = options.StoppedReportingAfter.Ticks;
    }

    /// <summary>
    /// Names the top failure reason by waste of a subject's jobs in a range (scope, subject, from, to), appended to a
    /// firing material-efficiency alert's message; none when null.
    /// </summary>
    public Func<KpiScope, string, DateTimeOffset, DateTimeOffset, string?>? TopReason { get; set; }

    /// <summary>Alerts currently firing.</summary>
    public int Firing => _firing.Count;

    /// <summary>Subjects whose windows are held (for the baseline).</summary>
    public int Series => _series.Count;

    /// <summary>End of the last closed window judged, UTC ticks; <see cref="long.MinValue"/> before the first judgement.</summary>
    public long EvaluatedUntil => _evaluatedUntil;

    /// <summary>True when some window rule judges <paramref name="scope"/>.</summary>
    public bool Judges(KpiScope scope) => _dropScopes.Contains(scope) || _thresholdScopes.Contains(scope);

    /// <summary>The window size the rules read.</summary>
    public WindowSpec Window => _spec;

    /// <summary>True when <paramref name="rule"/> is firing for the subject.</summary>
    public bool IsFiring(string rule, KpiScope scope, string subject) => _firing.Contains(new AlertKey(rule, scope, subject));

    /// <summary>
    /// Takes the KPI points the engine just emitted (every changed window, each window's final state before it
    /// closes) and, for every window the <paramref name="watermark"/> has closed since the last call, judges every
    /// subject; appends each state change to <paramref name="output"/>.
    /// </summary>
    public void Evaluate(IReadOnlyList<KpiPoint> points, DateTimeOffset? watermark, List<AlertTransition> output)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(output);
        if (!_options.Enabled)
        {
            return;
        }

        foreach (var p in points)
        {
            // Windows without an ended job (a printer only seen, or still printing) weigh nothing in any rule: not
            // holding them keeps memory and the checkpoint to the windows that matter.
            if (p.Window.Name != _spec.Name || p.Totals.JobsEnded == 0 || !(_dropScopes.Contains(p.Scope) || _thresholdScopes.Contains(p.Scope)))
            {
                continue;
            }

            if (!_series.TryGetValue((p.Scope, p.Subject), out var windows))
            {
                windows = [];
                _series.Add((p.Scope, p.Subject), windows);
            }

            windows[p.WindowStart.UtcTicks] = p.Totals;
        }

        if (watermark is not { } w)
        {
            return;
        }

        // Windows ending at or before this instant are closed (end + allowed lateness ≤ watermark), as in the engine.
        var closedEnd = _spec.StartOf(new DateTimeOffset(Math.Max(0, w.UtcTicks - _lateness), TimeSpan.Zero)).UtcTicks;
        var size = _spec.Size.Ticks;
        if (closedEnd <= _evaluatedUntil)
        {
            return;
        }

        // After a long gap only the boundaries whose ranges still hold data are worth judging.
        var first = _evaluatedUntil == long.MinValue ? closedEnd : Math.Max(_evaluatedUntil + size, closedEnd - _recent - _baseline);
        for (var end = first; end <= closedEnd; end += size)
        {
            JudgeWindows(end, output);
        }

        _evaluatedUntil = closedEnd;
        Prune(closedEnd - _recent - _baseline);
    }

    /// <summary>
    /// Notes a message from <paramref name="printer"/> received at <paramref name="receivedAt"/>, and whether it has a
    /// job open after it. Resolves its <c>printer_stopped_reporting</c> alert, and fires it for any other printer with
    /// an open job that has been silent too long.
    /// </summary>
    public void Observe(string printer, DateTimeOffset receivedAt, bool jobOpen, List<AlertTransition> output)
    {
        ArgumentNullException.ThrowIfNull(printer);
        ArgumentNullException.ThrowIfNull(output);
        if (!_options.Enabled || _stoppedAfter <= 0)
        {
            return;
        }

        var received = receivedAt.UtcTicks;
        _latestReceived = Math.Max(_latestReceived, received);
        if (!_printers.TryGetValue(printer, out var clock))
        {
            clock = new PrinterClock();
            _printers.Add(printer, clock);
        }

        var silent = clock.LastReceived == long.MinValue ? 0 : received - clock.LastReceived;
        clock.LastReceived = Math.Max(clock.LastReceived, received);
        clock.JobOpen = jobOpen;
        // Nothing firing (the usual case): no key to build and hash for every message.
        if (_firing.Count > 0 && _firing.Remove(new AlertKey(AlertRuleNames.StoppedReporting, KpiScope.Printer, printer)))
        {
            output.Add(new AlertTransition(
                AlertRuleNames.StoppedReporting, KpiScope.Printer, printer, AlertState.Resolved, receivedAt, Minutes(silent), null, Minutes(_stoppedAfter),
                Invariant($"Printer {printer} reports again after {Minutes(silent):0.#} min of silence")));
        }

        if (jobOpen)
        {
            _nextStoppedCheck = Math.Min(_nextStoppedCheck, clock.LastReceived + _stoppedAfter);
        }

        if (_latestReceived >= _nextStoppedCheck)
        {
            CheckSilentPrinters(output);
        }
    }

    /// <summary>Everything needed to carry on after a restart: held windows, firing alerts, printers' last messages.</summary>
    public AlertEvaluatorState SaveState() => new()
    {
        Window = _spec.Name,
        EvaluatedUntil = _evaluatedUntil,
        LatestReceived = _latestReceived,
        Series = _series.OrderBy(kv => kv.Key.Scope).ThenBy(kv => kv.Key.Subject, StringComparer.Ordinal)
            .Select(kv => new AlertEvaluatorState.SeriesState
            {
                Scope = kv.Key.Scope,
                Subject = kv.Key.Subject,
                Windows = kv.Value.Select(w => new AlertEvaluatorState.WindowState { Start = w.Key, Sums = [.. w.Value.ToSums()] }).ToList(),
            }).ToList(),
        Firing = _firing.OrderBy(k => k.Rule, StringComparer.Ordinal).ThenBy(k => k.Scope).ThenBy(k => k.Subject, StringComparer.Ordinal)
            .Select(k => new AlertEvaluatorState.FiringState { Rule = k.Rule, Scope = k.Scope, Subject = k.Subject }).ToList(),
        Printers = _printers.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new AlertEvaluatorState.PrinterState { Printer = kv.Key, LastReceived = kv.Value.LastReceived, JobOpen = kv.Value.JobOpen }).ToList(),
    };

    /// <summary>
    /// Replaces the state with a saved one, read wholly before anything is swapped in. Windows of another size than
    /// the configured one are dropped (the firing alerts are kept).
    /// </summary>
    public void RestoreState(AlertEvaluatorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var series = new Dictionary<(KpiScope, string), SortedDictionary<long, KpiTotals>>();
        if (state.Window == _spec.Name)
        {
            foreach (var s in state.Series)
            {
                series[(s.Scope, s.Subject)] = new SortedDictionary<long, KpiTotals>(s.Windows.ToDictionary(w => w.Start, w => KpiTotals.FromSums(w.Sums)));
            }
        }

        var firing = state.Firing.Select(f => new AlertKey(f.Rule, f.Scope, f.Subject)).ToHashSet();
        var printers = state.Printers.ToDictionary(p => p.Printer, p => new PrinterClock { LastReceived = p.LastReceived, JobOpen = p.JobOpen }, StringComparer.Ordinal);

        _series = series;
        _firing = firing;
        _printers = printers;
        _evaluatedUntil = state.Window == _spec.Name ? state.EvaluatedUntil : long.MinValue;
        _latestReceived = state.LatestReceived;
        _nextStoppedCheck = long.MinValue; // recomputed by the next check
    }

    private void CheckSilentPrinters(List<AlertTransition> output)
    {
        var next = long.MaxValue;
        foreach (var (printer, clock) in _printers)
        {
            if (!clock.JobOpen)
            {
                continue;
            }

            var key = new AlertKey(AlertRuleNames.StoppedReporting, KpiScope.Printer, printer);
            var deadline = clock.LastReceived + _stoppedAfter;
            if (_latestReceived < deadline)
            {
                next = Math.Min(next, deadline);
                continue;
            }

            if (_firing.Add(key))
            {
                var silent = _latestReceived - clock.LastReceived;
                output.Add(new AlertTransition(
                    key.Rule, KpiScope.Printer, printer, AlertState.Firing, new DateTimeOffset(_latestReceived, TimeSpan.Zero), Minutes(silent), null, Minutes(_stoppedAfter),
                    Invariant($"Printer {printer} has sent nothing for {Minutes(silent):0.#} min while a job is open (limit {Minutes(_stoppedAfter):0.#} min)")));
            }
        }

        _nextStoppedCheck = next;
    }

    private void JudgeWindows(long end, List<AlertTransition> output)
    {
        var at = new DateTimeOffset(end, TimeSpan.Zero);
        var recentStart = end - _recent;
        var baselineStart = recentStart - _baseline;
        foreach (var ((scope, subject), windows) in _series)
        {
            var recent = Sum(windows, recentStart, end);
            if (recent.JobsEnded == 0)
            {
                continue;
            }

            var enoughJobs = recent.JobsEnded >= _options.MinJobs;
            var enoughFilament = enoughJobs && recent.FilamentUsedGrams >= _options.MinFilamentGrams;
            var name = SubjectName(scope, subject);
            if (_dropScopes.Contains(scope))
            {
                var baseline = Sum(windows, baselineStart, recentStart);
                var baselineJobs = baseline.JobsEnded >= _options.BaselineMinJobs;
                if (enoughFilament && baselineJobs && baseline.FilamentUsedGrams >= _options.BaselineMinFilamentGrams
                    && recent.MaterialEfficiency is { } eff && baseline.MaterialEfficiency is { } baseEff)
                {
                    var line = baseEff - (_options.EfficiencyDropPoints / 100);
                    Judge(output, new AlertKey(AlertRuleNames.EfficiencyDrop, scope, subject), at, eff, baseEff, line,
                        fire: eff < line, resolve: eff >= line + (_options.HysteresisPoints / 100),
                        Invariant($"Material efficiency of {name} over the last {Hours(_recent)} h is {eff:P1}, against {baseEff:P1} over the {Hours(_baseline)} h before (fires below {line:P1})"),
                        Invariant($"Material efficiency of {name} over the last {Hours(_recent)} h is back to {eff:P1} (baseline {baseEff:P1})"));
                }

                if (enoughJobs && baselineJobs && recent.SuccessRate is { } rate && baseline.SuccessRate is { } baseRate)
                {
                    var line = baseRate - (_options.SuccessRateDropPoints / 100);
                    Judge(output, new AlertKey(AlertRuleNames.SuccessRateDrop, scope, subject), at, rate, baseRate, line,
                        fire: rate < line, resolve: rate >= line + (_options.HysteresisPoints / 100),
                        Invariant($"Success rate of {name} over the last {Hours(_recent)} h is {rate:P1}, against {baseRate:P1} over the {Hours(_baseline)} h before (fires below {line:P1})"),
                        Invariant($"Success rate of {name} over the last {Hours(_recent)} h is back to {rate:P1} (baseline {baseRate:P1})"));
                }

                if (enoughJobs && baselineJobs && recent.AvgPrintTimePerToySeconds is { } perToy && baseline.AvgPrintTimePerToySeconds is { } basePerToy)
                {
                    var line = basePerToy * (1 + (_options.PrintTimeRisePercent / 100));
                    Judge(output, new AlertKey(AlertRuleNames.PrintTimeRise, scope, subject), at, perToy, basePerToy, line,
                        fire: perToy > line, resolve: perToy <= basePerToy * (1 + ((_options.PrintTimeRisePercent - _options.PrintTimeHysteresisPercent) / 100)),
                        Invariant($"Print time per toy of {name} over the last {Hours(_recent)} h is {perToy / 60:0.#} min, against {basePerToy / 60:0.#} min over the {Hours(_baseline)} h before (fires above {line / 60:0.#} min)"),
                        Invariant($"Print time per toy of {name} over the last {Hours(_recent)} h is back to {perToy / 60:0.#} min (baseline {basePerToy / 60:0.#} min)"));
                }
            }

            if (_thresholdScopes.Contains(scope) && enoughFilament && recent.MaterialEfficiency is { } value)
            {
                var hysteresis = _options.HysteresisPoints / 100;
                foreach (var (rule, percent) in new[] { (AlertRuleNames.EfficiencyCritical, _options.EfficiencyCriticalPercent), (AlertRuleNames.EfficiencyWarning, _options.EfficiencyWarningPercent) })
                {
                    var line = percent / 100;
                    Judge(output, new AlertKey(rule, scope, subject), at, value, null, line,
                        fire: value < line, resolve: value >= line + hysteresis,
                        Invariant($"Material efficiency of {name} over the last {Hours(_recent)} h is {value:P1}, below {line:P0}"),
                        Invariant($"Material efficiency of {name} over the last {Hours(_recent)} h is back to {value:P1} (line {line:P0})"));
                }
            }
        }
    }

    // A firing material-efficiency alert says why: "; top reason: clog, 62 % of the waste" over its recent range, or
    // nothing (no tracker, or no waste in the range). Asked only when an alert fires: it reads the kept jobs.
    private string Why(AlertKey key, DateTimeOffset at) =>
        key.Rule is AlertRuleNames.EfficiencyDrop or AlertRuleNames.EfficiencyCritical or AlertRuleNames.EfficiencyWarning
        && TopReason?.Invoke(key.Scope, key.Subject, at - TimeSpan.FromTicks(_recent), at) is { } text ? "; " + text : string.Empty;

    private void Judge(List<AlertTransition> output, AlertKey key, DateTimeOffset at, double value, double? baseline, double threshold, bool fire, bool resolve, string fireMessage, string resolveMessage)
    {
        if (fire && _firing.Add(key))
        {
            output.Add(new AlertTransition(key.Rule, key.Scope, key.Subject, AlertState.Firing, at, value, baseline, threshold, fireMessage + Why(key, at)));
        }
        else if (resolve && _firing.Remove(key))
        {
            output.Add(new AlertTransition(key.Rule, key.Scope, key.Subject, AlertState.Resolved, at, value, baseline, threshold, resolveMessage));
        }
    }

    private static KpiTotals Sum(SortedDictionary<long, KpiTotals> windows, long from, long to)
    {
        var sum = default(KpiTotals);
        foreach (var (start, totals) in windows)
        {
            if (start >= to)
            {
                break;
            }

            if (start >= from)
            {
                sum.Add(totals);
            }
        }

        return sum;
    }

    private void Prune(long before)
    {
        List<(KpiScope, string)>? empty = null;
        foreach (var (key, windows) in _series)
        {
            while (windows.Count > 0 && windows.First().Key < before)
            {
                windows.Remove(windows.First().Key);
            }

            if (windows.Count == 0)
            {
                (empty ??= []).Add(key);
            }
        }

        if (empty is not null)
        {
            foreach (var key in empty)
            {
                _series.Remove(key);
            }
        }
    }

    private static string SubjectName(KpiScope scope, string subject) => scope switch
    {
        KpiScope.Farm => "the farm",
        KpiScope.Printer => "printer " + subject,
        KpiScope.Toy => "toy " + subject,
        _ => "material " + subject,
    };

    private static double Minutes(long ticks) => TimeSpan.FromTicks(ticks).TotalMinutes;

    private static string Hours(long ticks) => TimeSpan.FromTicks(ticks).TotalHours.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private readonly record struct AlertKey(string Rule, KpiScope Scope, string Subject);

    private sealed class PrinterClock
    {
        public long LastReceived = long.MinValue;
        public bool JobOpen;
    }
}
