using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Journal;

/// <summary>Settings under <c>PrintFarm:Journal</c>: the write-ahead log of received MQTT messages.</summary>
public sealed class JournalOptions
{
    /// <summary>The most messages one group commit can hold (and <see cref="GroupMessages"/>' upper bound).</summary>
    public const int MaxGroupMessages = 4096;

    /// <summary>The most bytes one group commit gathers (a single larger message still goes, alone).</summary>
    public const int MaxGroupBytes = 4 * 1024 * 1024;

    /// <summary>A segment file is closed and a new one started past this size, bytes. Default 64 MiB (67108864).</summary>
    public long SegmentBytes { get; set; } = 64L << 20;

    /// <summary>
    /// Disk the journal may use, bytes. It grows only while the pipeline is behind the broker; at the limit the worker
    /// stops acknowledging QoS 1 messages (the broker holds them) and drops QoS 0 messages, counted and logged.
    /// Default 2 GiB (2147483648).
    /// </summary>
    public long MaxBytes { get; set; } = 2L << 30;

    /// <summary>
    /// Messages in one group commit (one write and one fsync), 1–4096. While one group is being committed and the next
    /// is full, the worker stops reading the socket and the broker holds the backlog (back-pressure). Default 4096.
    /// Unset, the older <c>Mqtt:QueueCapacity</c> is used when that is set.
    /// </summary>
    public int? GroupMessages { get; set; }

    /// <summary>
    /// Free space the journal leaves on its disk, bytes: a commit that would eat into it fails as a full disk does (not
    /// acknowledged, retried, <c>/readyz</c> failing), so the checkpoint — which lets segments be deleted — and the spool
    /// can still be written when the journal has filled the rest. <c>0</c> turns the check off. Default 64 MiB (67108864).
    /// </summary>
    public long DiskReserveBytes { get; set; } = 64L << 20;

    /// <summary>The group size in effect: <see cref="GroupMessages"/>, else the older <c>Mqtt:QueueCapacity</c>, at most 4096.</summary>
    internal static int EffectiveGroupMessages(PrintFarmOptions o) =>
        Math.Clamp(o.Journal.GroupMessages ?? o.Mqtt.QueueCapacity ?? MaxGroupMessages, 1, MaxGroupMessages);
}

/// <summary>Checks <c>PrintFarm:Journal</c> (and the older name of one of its settings); called by <see cref="PrintFarmOptionsValidator"/>.</summary>
internal static class JournalOptionsValidator
{
    private const string P = PrintFarmOptions.SectionName;

    /// <summary>The smallest segment: a few records; tests use it to make many segments.</summary>
    public const long MinSegmentBytes = 4096;

    public static void Validate(PrintFarmOptions o, List<string> errors)
    {
        var j = o.Journal;
        void Check(bool ok, string key, string allowed, object? value)
        {
            if (!ok)
            {
                errors.Add($"{P}:{key} is '{value}': {allowed}");
            }
        }

        Check(j.SegmentBytes is >= MinSegmentBytes and <= 1L << 30, "Journal:SegmentBytes", "must be between 4096 and 1073741824 (1 GiB)", j.SegmentBytes);

        // Room for a full segment and a full group beside it: below that the journal is "full" before it holds one.
        var minMax = Math.Max(j.SegmentBytes, MinSegmentBytes) + JournalOptions.MaxGroupBytes;
        Check(j.MaxBytes >= minMax, "Journal:MaxBytes", $"must be at least Journal:SegmentBytes + 4194304 (one segment and one group), here {minMax}", j.MaxBytes);
        Check(j.GroupMessages is null or (>= 1 and <= JournalOptions.MaxGroupMessages), "Journal:GroupMessages", "must be between 1 and 4096", j.GroupMessages);
        Check(j.DiskReserveBytes >= 0, "Journal:DiskReserveBytes", "must be 0 (no check) or a positive number of bytes", j.DiskReserveBytes);
        Check(o.Mqtt.QueueCapacity is null or >= 1, "Mqtt:QueueCapacity", "(the older name of Journal:GroupMessages) must be at least 1; prefer Journal:GroupMessages, 1–4096", o.Mqtt.QueueCapacity);
    }
}
