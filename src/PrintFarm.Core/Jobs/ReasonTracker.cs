using System.Globalization;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Jobs;

/// <summary>Settings of the <see cref="ReasonTracker"/> (<c>PrintFarm:Reasons</c>).</summary>
public sealed class ReasonTrackerOptions
{
    /// <summary>Whether operator labels are read at all (the breakdown by reason is always written). Default true.</summary>
    public bool LabelsEnabled { get; set; } = true;

    /// <summary>Labels arrive on <c>{TopicPrefix}/{printer}/{job id}</c>. Default <c>printfarm/labels</c>.</summary>
    public string TopicPrefix { get; set; } = "printfarm/labels";

    /// <summary>
    /// How long after its end (by event time) a failed or cancelled job can still be labelled, and its windows' breakdown
    /// corrected. Default 7 days; 1 hour to 90 days.
    /// </summary>
    public TimeSpan LabelFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>At most this many failed and cancelled jobs are kept for labels; the oldest leave first. Default 50,000.</summary>
    public int MaxJobs { get; set; } = 50_000;

    /// <summary>Each problem as the key and what is allowed (keys relative to <c>PrintFarm:Reasons</c>); none when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.AsSpan().IndexOfAny('+', '#') >= 0 || TopicPrefix.StartsWith('/'))
        {
            yield return $"TopicPrefix is '{TopicPrefix}': must be an MQTT topic without wildcards, such as printfarm/labels";
        }

        if (LabelFor < TimeSpan.FromHours(1) || LabelFor > TimeSpan.FromDays(90))
        {
            yield return $"LabelFor is '{LabelFor}': must be between 01:00:00 and 90.00:00:00";
        }

        if (MaxJobs is < 1 or > 10_000_000)
        {
            yield return $"MaxJobs is {MaxJobs}: must be between 1 and 10000000";
        }
    }
}

/// <summary>An operator's label read from its payload: the reason, an optional note, and an optional job id (used instead of the topic's).</summary>
public readonly record struct JobLabel(FailureReason Reason, string? Note, string? JobId = null);

/// <summary>
/// Why prints fail, after the fact: keeps the failed and cancelled jobs of the last <see cref="ReasonTrackerOptions.LabelFor"/>
/// so an operator can label one (<c>{prefix}/{printer}/{job id}</c>, body <c>{"reason": "clog", "note": "…"}</c>), and
/// holds the <see cref="ReasonBreakdown"/> a label corrects. A label changes the job's reason fields only: its point is
/// written again with the same tags and time, so InfluxDB replaces the fields, and <c>reason_source</c> becomes
/// <c>operator</c>. Applying the same label twice changes nothing (a replay after a restart is harmless). Pure.
/// </summary>
public sealed class ReasonTracker
{
    /// <summary>Reject reason of a label for a job that is not kept (never failed or cancelled here, or too old).</summary>
    public const string UnknownJob = "unknown_job";

    private readonly ReasonTrackerOptions _options;
    private readonly string _topicStart;
    private readonly Dictionary<(string Printer, string JobId), Entry> _jobs = [];
    private readonly Queue<(string Printer, string JobId, long End)> _order = new();

    /// <summary>Creates the tracker over the KPI engine's window sizes.</summary>
    public ReasonTracker(IReadOnlyList<WindowSpec> windows, ReasonTrackerOptions? options = null)
    {
        _options = options ?? new ReasonTrackerOptions();
        Breakdown = new ReasonBreakdown(windows);
        _topicStart = _options.TopicPrefix.TrimEnd('/') + "/";
    }

    /// <summary>The breakdown by reason (<c>kpi_reason</c>).</summary>
    public ReasonBreakdown Breakdown { get; }

    /// <summary>Failed and cancelled jobs kept for labels.</summary>
    public int Jobs => _jobs.Count;

    /// <summary>The label subscription, or null when labels are off.</summary>
    public string? SubscriptionFilter => _options.LabelsEnabled ? _topicStart + "#" : null;

    /// <summary>True when <paramref name="topic"/> is a label topic; <paramref name="rest"/> is what follows the prefix.</summary>
    public bool TryMatchTopic(string topic, out string rest)
    {
        ArgumentNullException.ThrowIfNull(topic);
        rest = string.Empty;
        if (!_options.LabelsEnabled || !topic.StartsWith(_topicStart, StringComparison.Ordinal))
        {
            return false;
        }

        rest = topic[_topicStart.Length..];
        return true;
    }

    /// <summary>
    /// Notes an ended job: it counts in the breakdown's windows of each size not yet closed by the KPI engine
    /// (<paramref name="isWindowClosed"/>, asked right after the engine took the job, so both agree), and a failed or
    /// cancelled one is kept for labels.
    /// </summary>
    public void AddJob(EndedJob job, Func<WindowSpec, DateTimeOffset, bool> isWindowClosed)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(isWindowClosed);
        var counted = 0;
        for (var i = 0; i < Breakdown.Windows.Count; i++)
        {
            if (!isWindowClosed(Breakdown.Windows[i], job.End))
            {
                counted |= 1 << i;
            }
        }

        Breakdown.Add(job, counted);
        if (job.Outcome == JobOutcome.Completed)
        {
            return;
        }

        var key = (job.Printer, job.JobId);
        _jobs[key] = new Entry(job, counted, job.ReasonDetail);
        _order.Enqueue((job.Printer, job.JobId, job.End.UtcTicks));
        while (_jobs.Count > _options.MaxJobs && _order.TryDequeue(out var oldest))
        {
            Forget(oldest);
        }
    }

    /// <summary>
    /// Applies the label of <paramref name="topicRest"/> (<c>{printer}/{job id}</c>) to a kept job. Returns the job as it
    /// is now (to write its point again) or null with the reason a bad label is rejected for, changing nothing.
    /// </summary>
    public AdapterResult Label(string topicRest, ReadOnlyMemory<byte> payload, out EndedJob? relabelled)
    {
        ArgumentNullException.ThrowIfNull(topicRest);
        relabelled = null;
        var slash = topicRest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == topicRest.Length - 1)
        {
            return AdapterResult.Rejected(RejectReasons.UnknownTopic, "a label topic is {prefix}/{printer}/{job id}");
        }

        if (!TryRead(payload.Span, out var label, out var problem))
        {
            return AdapterResult.Rejected(problem!.Value.Reason, problem.Value.Detail);
        }

        var printer = TagValue.Clean(topicRest[..slash], string.Empty);
        // A job id with '+' or '#' (Moonraker's are file@start+duration) cannot be an MQTT topic level: the body's
        // job_id, when given, names the job instead of the topic.
        var jobId = label.JobId ?? topicRest[(slash + 1)..];
        if (!_jobs.TryGetValue((printer, jobId), out var entry))
        {
            return AdapterResult.Rejected(UnknownJob, string.Create(CultureInfo.InvariantCulture, $"no failed or cancelled job '{jobId}' on printer '{printer}' in the last {_options.LabelFor.TotalHours:0.#} h"));
        }

        var old = entry.Job;
        var job = old with
        {
            Reason = label.Reason,
            ReasonDetail = label.Note ?? entry.PrinterDetail,
            ReasonSource = FailureReasons.FromOperator,
        };
        Breakdown.Move(old, entry.CountedIn, old.Reason ?? FailureReason.Unknown, label.Reason);
        _jobs[(printer, jobId)] = entry with { Job = job };
        relabelled = job;
        return AdapterResult.Ok;
    }

    /// <summary>
    /// Reads a label body: a JSON object with <c>reason</c> (a taxonomy name), an optional string <c>note</c>, and an
    /// optional string <c>job_id</c> that names the job instead of the topic's last level.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out JobLabel label, out (string Reason, string Detail)? problem)
    {
        label = default;
        problem = null;
        try
        {
            using var doc = JsonDocument.Parse(payload.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                problem = (RejectReasons.InvalidJson, "a label is a JSON object");
                return false;
            }

            if (!doc.RootElement.TryGetProperty("reason", out var reason) || reason.ValueKind != JsonValueKind.String)
            {
                problem = (RejectReasons.MissingField, "a label needs 'reason', a string");
                return false;
            }

            if (!FailureReasons.TryParse(reason.GetString(), out var parsed))
            {
                problem = (RejectReasons.InvalidField, $"'reason' is '{FailureReasons.Detail(reason.GetString()!)}': must be one of {string.Join(", ", FailureReasons.All.Select(FailureReasons.Name))}");
                return false;
            }

            string? note = null;
            if (doc.RootElement.TryGetProperty("note", out var n) && n.ValueKind != JsonValueKind.Null)
            {
                if (n.ValueKind != JsonValueKind.String)
                {
                    problem = (RejectReasons.InvalidField, "'note' must be a string");
                    return false;
                }

                note = string.IsNullOrWhiteSpace(n.GetString()) ? null : FailureReasons.Detail(n.GetString()!);
            }

            string? jobId = null;
            if (doc.RootElement.TryGetProperty("job_id", out var id) && id.ValueKind != JsonValueKind.Null)
            {
                if (id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
                {
                    problem = (RejectReasons.InvalidField, "'job_id' must be a non-empty string");
                    return false;
                }

                jobId = id.GetString();
            }

            label = new JobLabel(parsed, note, jobId);
            return true;
        }
        catch (JsonException ex)
        {
            problem = (RejectReasons.InvalidJson, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// The breakdown's points that changed since the last call; releases jobs and windows older than
    /// <see cref="ReasonTrackerOptions.LabelFor"/> behind <paramref name="watermark"/>.
    /// </summary>
    public void Collect(DateTimeOffset? watermark, List<ReasonPoint> output)
    {
        DateTimeOffset? before = watermark is { } w && w.UtcTicks > _options.LabelFor.Ticks ? w - _options.LabelFor : null;
        Breakdown.Collect(output, before);
        if (before is { } b)
        {
            while (_order.TryPeek(out var oldest) && oldest.End < b.UtcTicks)
            {
                Forget(_order.Dequeue());
            }
        }
    }

    /// <summary>
    /// The reason with the most waste among kept jobs of one subject that ended in [<paramref name="from"/>, <paramref name="to"/>),
    /// as text for an alert ("top reason: clog, 62 % of the waste"), or null when none wasted filament.
    /// </summary>
    public string? TopReason(KpiScope scope, string subject, DateTimeOffset from, DateTimeOffset to)
    {
        var waste = new double[FailureReasons.All.Count];
        foreach (var entry in _jobs.Values)
        {
            var j = entry.Job;
            var matches = scope switch
            {
                KpiScope.Printer => j.Printer == subject,
                KpiScope.Toy => j.Toy == subject,
                KpiScope.Material => j.Material == subject,
                _ => true,
            };
            if (matches && j.HasFilament && j.End >= from && j.End < to)
            {
                waste[(int)(j.Reason ?? FailureReason.Unknown)] += j.FilamentGrams;
            }
        }

        var total = waste.Sum();
        if (total <= 0)
        {
            return null;
        }

        var top = Array.IndexOf(waste, waste.Max());
        return string.Create(CultureInfo.InvariantCulture, $"top reason: {FailureReasons.Name((FailureReason)top)}, {waste[top] / total:P0} of the waste");
    }

    /// <summary>The kept jobs and the breakdown's windows, for a checkpoint.</summary>
    public ReasonTrackerState SaveState() => new()
    {
        Jobs = _order.Where(k => _jobs.TryGetValue((k.Printer, k.JobId), out var e) && e.Job.End.UtcTicks == k.End)
            .Select(k => _jobs[(k.Printer, k.JobId)])
            .Select(e => new ReasonTrackerState.JobState { Job = e.Job, CountedIn = e.CountedIn, PrinterDetail = e.PrinterDetail })
            .ToList(),
        Windows = Breakdown.SaveState(),
    };

    /// <summary>Replaces the state with a saved one; null (an older checkpoint) starts empty.</summary>
    public void RestoreState(ReasonTrackerState? state)
    {
        _jobs.Clear();
        _order.Clear();
        foreach (var j in state?.Jobs ?? [])
        {
            _jobs[(j.Job.Printer, j.Job.JobId)] = new Entry(j.Job, j.CountedIn, j.PrinterDetail);
            _order.Enqueue((j.Job.Printer, j.Job.JobId, j.Job.End.UtcTicks));
        }

        Breakdown.RestoreState(state?.Windows);
    }

    // A queued key whose entry was replaced by a newer job of the same id stays for the newer one.
    private void Forget((string Printer, string JobId, long End) key)
    {
        if (_jobs.TryGetValue((key.Printer, key.JobId), out var e) && e.Job.End.UtcTicks == key.End)
        {
            _jobs.Remove((key.Printer, key.JobId));
        }
    }

    private sealed record Entry(EndedJob Job, int CountedIn, string? PrinterDetail);
}

/// <summary>The <see cref="ReasonTracker"/>'s part of a checkpoint (its own <c>reasons</c> property).</summary>
public sealed class ReasonTrackerState
{
    /// <summary>Failed and cancelled jobs kept for labels, oldest first, as they are now (labels applied).</summary>
    public List<JobState> Jobs { get; init; } = [];

    /// <summary>The breakdown's windows.</summary>
    public List<ReasonBreakdownState> Windows { get; init; } = [];

    /// <summary>One kept job.</summary>
    public sealed class JobState
    {
        /// <summary>The job with its current reason.</summary>
        public required EndedJob Job { get; init; }

        /// <summary>Bit i set: the job counts in the window of size i.</summary>
        public int CountedIn { get; init; }

        /// <summary>The detail the printer gave, kept when a label has no note.</summary>
        public string? PrinterDetail { get; init; }
    }
}
