using System.Globalization;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Notifications;

/// <summary>
/// Decides which everyday events become notifications: jobs that ended (finished, failed, cancelled) and printers that
/// went offline or came back. Pure: no clock, no I/O; its only clock is the receive time of the messages, so replaying
/// the same messages from a checkpoint gives the same notifications, with the same times and so the same keys.
/// </summary>
/// <remarks>
/// <para>Offline is noticed two ways: a presence message saying the printer (or its host) is disconnected, or the
/// <c>printer_stopped_reporting</c> alert firing (a printer with an open job silent too long). Whichever comes first
/// sends the one <c>offline</c> notification; the printer's next message sends <c>online</c>.</para>
/// <para>Rate limit: receive time is cut into fixed intervals (<see cref="NotificationOptions.Interval"/>). Per kind,
/// the first <see cref="NotificationOptions.MaxPerInterval"/> notifications of an interval go out one by one; the
/// rest are counted and go out as one digest, stamped with the interval's end, with the first message received after
/// it. Kinds are limited separately, so a wave of finished jobs never holds back a failure.</para>
/// </remarks>
public sealed class NotificationPlanner
{
    /// <summary>Printers a digest names; the rest are counted.</summary>
    public const int DigestPrinters = 10;

    private readonly IReadOnlySet<NotificationKind> _kinds;
    private readonly bool _tracksOffline;
    private readonly int _max;
    private readonly long _interval;
    private readonly int[] _sent = new int[NotificationKinds.All.Count];
    private readonly Held[] _held = NotificationKinds.All.Select(_ => new Held()).ToArray();
    private HashSet<string> _offline = new(StringComparer.Ordinal);
    private long _bucket = long.MinValue;

    /// <summary>Creates a planner for the kinds <paramref name="options"/> turns on.</summary>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="NotificationOptions.Validate"/>).</exception>
    public NotificationPlanner(NotificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        _kinds = options.EnabledKinds();
        _tracksOffline = _kinds.Contains(NotificationKind.Offline) || _kinds.Contains(NotificationKind.Online);
        _max = options.MaxPerInterval;
        _interval = options.Interval.Ticks;
    }

    /// <summary>Printers currently counted as offline.</summary>
    public int OfflinePrinters => _offline.Count;

    /// <summary>
    /// Takes one printer event after the job tracker and the alert evaluator have applied it: the jobs it ended
    /// (<paramref name="ended"/> from <paramref name="endedFrom"/>), the alert transitions it caused (from
    /// <paramref name="alertsFrom"/>), and the progress the printer's open job had reached before it. Appends the
    /// notifications to send to <paramref name="output"/>.
    /// </summary>
    public void Apply(
        PrinterEvent e,
        DateTimeOffset receivedAt,
        double? progressBefore,
        IReadOnlyList<EndedJob> ended,
        int endedFrom,
        IReadOnlyList<AlertTransition> alerts,
        int alertsFrom,
        List<Notification> output)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(ended);
        ArgumentNullException.ThrowIfNull(alerts);
        ArgumentNullException.ThrowIfNull(output);
        Advance(receivedAt, output);
        for (var i = endedFrom; i < ended.Count; i++)
        {
            var job = ended[i];
            Emit(JobNotification(job, e, job.Printer == e.Printer ? progressBefore : null), output);
        }

        if (!_tracksOffline)
        {
            return;
        }

        // The evaluator resolves this printer's silence first, then fires for the others: the same order here.
        for (var i = alertsFrom; i < alerts.Count; i++)
        {
            var a = alerts[i];
            if (a.Rule != AlertRuleNames.StoppedReporting)
            {
                continue;
            }

            if (a.State == AlertState.Resolved && _offline.Remove(a.Subject))
            {
                Emit(new Notification(NotificationKind.Online, a.Subject, a.At, Invariant($"Printer {a.Subject} reports again after {a.Value ?? 0:0.#} min of silence"))
                {
                    Source = a.Subject == e.Printer ? e.Source : null,
                    Reason = "it sent a message again",
                    SilentMinutes = a.Value,
                }, output);
            }
            else if (a.State == AlertState.Firing && _offline.Add(a.Subject))
            {
                Emit(new Notification(NotificationKind.Offline, a.Subject, a.At, Invariant($"Printer {a.Subject} is offline: it has sent nothing for {a.Value ?? 0:0.#} min while a job is open"))
                {
                    Reason = Invariant($"silent for {a.Value ?? 0:0.#} min with a job open (limit {a.Threshold ?? 0:0.#} min)"),
                    SilentMinutes = a.Value,
                }, output);
            }
        }

        if (e.Online == false)
        {
            if (_offline.Add(e.Printer))
            {
                Emit(new Notification(NotificationKind.Offline, e.Printer, receivedAt, $"Printer {e.Printer} is offline: its {e.Source} connection reported it disconnected")
                {
                    Source = e.Source,
                    Reason = "presence message: disconnected",
                }, output);
            }
        }
        else if (_offline.Count > 0 && _offline.Remove(e.Printer))
        {
            Emit(new Notification(NotificationKind.Online, e.Printer, receivedAt, $"Printer {e.Printer} is back online")
            {
                Source = e.Source,
                Reason = e.Online == true ? "presence message: connected" : "it sent a message again",
            }, output);
        }
    }

    /// <summary>The state to carry on after a restart: the current interval, what it has sent and held, and the offline printers.</summary>
    public NotificationPlannerState SaveState() => new()
    {
        Interval = _bucket,
        Kinds = NotificationKinds.All
            .Where(k => _sent[(int)k] > 0 || _held[(int)k].Count > 0)
            .Select(k => new NotificationPlannerState.KindState { Kind = NotificationKinds.Name(k), Sent = _sent[(int)k], Held = _held[(int)k].Count, HeldPrinters = [.. _held[(int)k].Printers] })
            .ToList(),
        Offline = [.. _offline.Order(StringComparer.Ordinal)],
    };

    /// <summary>Replaces the state with a saved one (null: a checkpoint without notifications starts empty). Read wholly before anything is swapped in.</summary>
    public void RestoreState(NotificationPlannerState? state)
    {
        var sent = new int[_sent.Length];
        var held = NotificationKinds.All.Select(_ => new Held()).ToArray();
        foreach (var k in state?.Kinds ?? [])
        {
            if (NotificationKinds.TryParse(k.Kind, out var kind))
            {
                sent[(int)kind] = k.Sent;
                held[(int)kind].Count = k.Held;
                held[(int)kind].Printers.AddRange(k.HeldPrinters.Take(DigestPrinters));
            }
        }

        var offline = new HashSet<string>(state?.Offline ?? [], StringComparer.Ordinal);
        _bucket = state?.Interval ?? long.MinValue;
        sent.CopyTo(_sent, 0);
        held.CopyTo(_held, 0);
        _offline = offline;
    }

    // A new interval sends the digests of the one before and starts every count afresh.
    private void Advance(DateTimeOffset receivedAt, List<Notification> output)
    {
        var ticks = receivedAt.UtcTicks;
        var bucket = ticks - (ticks % _interval);
        if (bucket <= _bucket)
        {
            return;
        }

        if (_bucket != long.MinValue)
        {
            var from = new DateTimeOffset(_bucket, TimeSpan.Zero);
            var to = new DateTimeOffset(Math.Min(_bucket + _interval, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero);
            foreach (var kind in NotificationKinds.All)
            {
                var held = _held[(int)kind];
                if (held.Count > 0)
                {
                    output.Add(Digest(kind, held, from, to));
                }
            }
        }

        Array.Clear(_sent);
        for (var i = 0; i < _held.Length; i++)
        {
            _held[i] = new Held();
        }

        _bucket = bucket;
    }

    private void Emit(Notification n, List<Notification> output)
    {
        if (!_kinds.Contains(n.Kind))
        {
            return;
        }

        var k = (int)n.Kind;
        if (_sent[k] < _max)
        {
            _sent[k]++;
            output.Add(n);
            return;
        }

        var held = _held[k];
        held.Count++;
        if (held.Printers.Count < DigestPrinters && !held.Printers.Contains(n.Printer, StringComparer.Ordinal))
        {
            held.Printers.Add(n.Printer);
        }
    }

    private Notification Digest(NotificationKind kind, Held held, DateTimeOffset from, DateTimeOffset to)
    {
        var what = kind switch
        {
            NotificationKind.Finished => "jobs finished",
            NotificationKind.Failed => "jobs failed",
            NotificationKind.Cancelled => "jobs were cancelled",
            NotificationKind.Offline => "printers went offline",
            _ => "printers came back online",
        };
        var names = string.Join(", ", held.Printers);
        var more = held.Count > held.Printers.Count ? Invariant($" and {held.Count - held.Printers.Count} more") : string.Empty;
        var message = Invariant($"{held.Count} more {what} between {from:HH:mm:ss} and {to:HH:mm:ss} UTC than the {_max} sent one by one: {names}{more}");
        return new Notification(kind, string.Empty, to, message) { Count = held.Count, Printers = [.. held.Printers] };
    }

    private static Notification JobNotification(EndedJob job, PrinterEvent cause, double? progress)
    {
        var kind = Notification.For(job.Outcome);
        string? reason = null;
        if (kind != NotificationKind.Finished)
        {
            // What the messages tell about why; adapters do not carry the printers' error texts (yet).
            reason = cause.Kind == EventKind.JobStarted
                ? "a new job started before this one's end was reported"
                : cause.State is { Length: > 0 } state ? $"the printer reported state '{state}'" : null;
        }

        var toy = job.Quantity > 1 ? Invariant($"{job.Quantity} × {job.Toy}") : job.Toy;
        var verb = kind switch { NotificationKind.Finished => "finished", NotificationKind.Failed => "failed", _ => "cancelled" };
        var time = Duration(job.PrintTimeSeconds);
        var filament = job.HasFilament ? Invariant($"{job.FilamentGrams:0.#} g of filament") : "filament unknown";
        var at = kind == NotificationKind.Finished || progress is null ? string.Empty : Invariant($" at {progress:0.#} %");
        var message = kind == NotificationKind.Finished
            ? $"Printer {job.Printer} finished {toy} ({job.Material}) in {time}, {filament}"
            : $"Printer {job.Printer} {verb} {toy} ({job.Material}) after {time}{at}{(reason is null ? string.Empty : ": " + reason)}; {filament}";
        return new Notification(kind, job.Printer, job.End, message)
        {
            Source = job.Source,
            JobId = job.JobId,
            Toy = job.Toy,
            Quantity = job.Quantity,
            Material = job.Material,
            PrintTimeSeconds = job.PrintTimeSeconds,
            FilamentGrams = job.HasFilament ? job.FilamentGrams : null,
            ProgressPercent = kind == NotificationKind.Finished ? null : progress,
            Reason = reason,
        };
    }

    private static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(seconds)));
        return t.TotalHours >= 1 ? Invariant($"{(int)t.TotalHours} h {t.Minutes} min") : t.TotalMinutes >= 1 ? Invariant($"{t.Minutes} min") : Invariant($"{t.Seconds} s");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class Held
    {
        public int Count;
        public readonly List<string> Printers = [];
    }
}
