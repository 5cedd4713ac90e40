using PrintFarm.Core.Events;

namespace PrintFarm.Core.Notifications;

/// <summary>The everyday events a farm can be told about, one per printer and moment.</summary>
public enum NotificationKind
{
    /// <summary>A job printed to the end.</summary>
    Finished,

    /// <summary>A job stopped on an error.</summary>
    Failed,

    /// <summary>A job was stopped by somebody, or replaced by a new one before its end was reported.</summary>
    Cancelled,

    /// <summary>A printer went offline: its host said so (presence), or it stopped reporting while a job was open.</summary>
    Offline,

    /// <summary>A printer that was offline reports again.</summary>
    Online,
}

/// <summary>
/// One notification: a job that ended or a printer that went offline or came back, or — when a kind is over its rate
/// limit — a digest of the ones held back (<see cref="Count"/> above 1, <see cref="Printer"/> empty). Every time in it
/// is an event or receive time from the messages, so a replay of the same messages gives the same notification.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Printer">Printer id; empty for a digest.</param>
/// <param name="At">When, in event time (a job's end; for offline and online the receive time that revealed it; a digest's interval end).</param>
/// <param name="Message">One sentence for people.</param>
public sealed record Notification(NotificationKind Kind, string Printer, DateTimeOffset At, string Message)
{
    /// <summary>Adapter that reported the printer, when known.</summary>
    public string? Source { get; init; }

    /// <summary>The job's id (job kinds only).</summary>
    public string? JobId { get; init; }

    /// <summary>Toy name (job kinds only).</summary>
    public string? Toy { get; init; }

    /// <summary>Toys on the plate (job kinds only).</summary>
    public int? Quantity { get; init; }

    /// <summary>Material (job kinds only).</summary>
    public string? Material { get; init; }

    /// <summary>Print time, seconds (job kinds only).</summary>
    public double? PrintTimeSeconds { get; init; }

    /// <summary>Filament used, grams; null when unknown.</summary>
    public double? FilamentGrams { get; init; }

    /// <summary>The last progress the printer reported before the job ended, percent; null when none was reported.</summary>
    public double? ProgressPercent { get; init; }

    /// <summary>What is known about why: a failed or cancelled job's end, or how an offline printer was noticed.</summary>
    public string? Reason { get; init; }

    /// <summary>Minutes the printer was silent (offline and online, when noticed by silence).</summary>
    public double? SilentMinutes { get; init; }

    /// <summary>Events this notification stands for: 1, or the number a digest holds.</summary>
    public int Count { get; init; } = 1;

    /// <summary>A digest's printers (the first ones, up to <see cref="NotificationPlanner.DigestPrinters"/>).</summary>
    public IReadOnlyList<string>? Printers { get; init; }

    /// <summary>The kind's name: <c>finished</c>, <c>failed</c>, <c>cancelled</c>, <c>offline</c> or <c>online</c>.</summary>
    public string KindName => NotificationKinds.Name(Kind);

    /// <summary>True for a digest of held-back notifications.</summary>
    public bool IsDigest => Printer.Length == 0;

    /// <summary>The notification kind of a job outcome.</summary>
    public static NotificationKind For(JobOutcome outcome) => outcome switch
    {
        JobOutcome.Completed => NotificationKind.Finished,
        JobOutcome.Failed => NotificationKind.Failed,
        _ => NotificationKind.Cancelled,
    };
}

/// <summary>Names of the notification kinds, as configured and as the last level of the MQTT topic.</summary>
public static class NotificationKinds
{
    /// <summary>Every kind, in order.</summary>
    public static IReadOnlyList<NotificationKind> All { get; } = [NotificationKind.Finished, NotificationKind.Failed, NotificationKind.Cancelled, NotificationKind.Offline, NotificationKind.Online];

    /// <summary>Every kind's name, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(Name).ToArray();

    /// <summary>The name of a kind.</summary>
    public static string Name(NotificationKind kind) => kind switch
    {
        NotificationKind.Finished => "finished",
        NotificationKind.Failed => "failed",
        NotificationKind.Cancelled => "cancelled",
        NotificationKind.Offline => "offline",
        _ => "online",
    };

    /// <summary>The kind of a name, case-insensitive.</summary>
    public static bool TryParse(string name, out NotificationKind kind)
    {
        var i = Array.FindIndex(Names.ToArray(), n => string.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase));
        kind = i >= 0 ? All[i] : default;
        return i >= 0;
    }
}
