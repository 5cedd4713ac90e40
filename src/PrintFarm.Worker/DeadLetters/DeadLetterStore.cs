using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.Worker.DeadLetters;

/// <summary>
/// Keeps every message the pipeline could not use, with its topic, receive time and reason, as one JSON line in
/// <c>{DataFolder}/deadletter/messages-yyyyMMdd.jsonl</c>; and every batch InfluxDB refused as bad data as a
/// line-protocol file in the same folder. Messages are written by a background task in groups, one <c>fsync</c> per
/// group, so a flood of junk does not stall ingestion; <see cref="FlushAsync"/> waits until everything queued is on
/// disk (a checkpoint waits for it). Nothing is dropped silently: when the disk itself fails, the log says so and a
/// counter counts it.
/// <para>
/// Each message's line carries its journal sequence (<c>"sequence"</c>, the first property) and is written once: a
/// restart replays the journal from the last checkpoint, and the messages rejected since then were dead-lettered
/// before the crash. On first use the store reads the last line of each file for the highest sequence kept (cutting off
/// a partial last line a crash left); a replayed record (<see cref="ReplayBefore"/>) at or below it is counted and
/// skipped. Lines are written in journal order, one file after the other, so everything below the highest sequence
/// kept is kept.
/// </para>
/// </summary>
internal sealed class DeadLetterStore : IAsyncDisposable, IDisposable
{
    private const int QueueCapacity = 10_000;
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger<DeadLetterStore> _logger;
    private readonly Channel<Item> _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(QueueCapacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });

    private Task? _loop;
    private long _sequence;
    private readonly LogThrottle _throttle;
    private long _highestKept = -1;
    private long _replayEnd;
    private bool _recovered;
    private readonly long _maxBytes;
    private readonly long _reserveBytes;
    private long _bytes;

    public DeadLetterStore(DataFolders folders, TimeProvider time, PrintFarmInstrumentation metrics, ILogger<DeadLetterStore> logger, IOptions<PrintFarmOptions>? options = null)
    {
        _maxBytes = options?.Value.DeadLetterMaxBytes ?? new PrintFarmOptions().DeadLetterMaxBytes;
        _reserveBytes = options?.Value.DeadLetterDiskReserveBytes ?? 0;
        Folder = folders.DeadLetters;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
    }

    /// <summary>The folder dead letters are kept in.</summary>
    public string Folder { get; }

    /// <summary>
    /// Records before this journal sequence were durable when the worker started: reading them again is a replay, and
    /// their dead letters may be kept already. Called once, before the first <see cref="WriteAsync"/>.
    /// </summary>
    public void ReplayBefore(long sequence) => Volatile.Write(ref _replayEnd, sequence);

    /// <summary>
    /// Queues a rejected MQTT message, journal record <paramref name="sequence"/>, for the store; waits while the queue
    /// is full. A replayed record whose dead letter is kept already is counted and skipped. With
    /// <paramref name="oversizeBytes"/> above zero the payload was not kept (over <c>MaxPayloadBytes</c>): the line has
    /// that <c>size</c>, <c>"payload_kept": false</c> and no <c>payload_base64</c>.
    /// </summary>
    public ValueTask WriteAsync(long sequence, string topic, ReadOnlyMemory<byte> payload, bool retained, DateTimeOffset receivedAt, string reason, string detail, long oversizeBytes = 0)
    {
        EnsureStarted();
        if (sequence < Volatile.Read(ref _replayEnd) && sequence <= Volatile.Read(ref _highestKept))
        {
            _metrics.DeadLettersReplaySkipped.Add(1);
            if (_throttle.ShouldLog("replayed", out var suppressed))
            {
                Log.DeadLetterAlreadyKept(_logger, sequence, topic, reason, suppressed);
            }

            return ValueTask.CompletedTask;
        }

        var buffer = new MemoryStream(payload.Length * 4 / 3 + 256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("sequence", sequence);
            json.WriteString("received_at", receivedAt.UtcDateTime);
            json.WriteString("topic", topic);
            json.WriteBoolean("retained", retained);
            json.WriteString("reason", reason);
            json.WriteString("detail", detail);
            if (oversizeBytes > 0)
            {
                json.WriteNumber("size", oversizeBytes);
                json.WriteBoolean("payload_kept", false);
            }
            else
            {
                json.WriteNumber("size", payload.Length);
                json.WriteBase64String("payload_base64", payload.Span);
            }
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        var file = string.Create(CultureInfo.InvariantCulture, $"messages-{receivedAt.UtcDateTime:yyyyMMdd}.jsonl");
        var item = new Item(file, buffer.ToArray(), topic, reason, null);
        return _queue.Writer.TryWrite(item) ? ValueTask.CompletedTask : _queue.Writer.WriteAsync(item);
    }

    /// <summary>Completes when every message queued before the call is on disk (or its failure logged and counted).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync(new Item(null, null, null, null, done), cancellationToken).ConfigureAwait(false);
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Keeps a batch of line protocol that InfluxDB refused, within the same byte budget and disk reserve as the
    /// messages; returns the file's path, or null when the file was not written (refused, or the disk failed: counted
    /// and logged).
    /// </summary>
    public string? WriteRejectedBatch(IReadOnlyList<string> lines, string status, string error)
    {
        EnsureStarted(); // the files kept before a restart count against the budget
        var now = _time.GetUtcNow();
        var seq = Interlocked.Increment(ref _sequence);
        var path = Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"influx-rejected-{now.UtcDateTime:yyyyMMddTHHmmssfff}-{seq}.lp"));
        var text = new StringBuilder();
        // '#' starts a comment in line protocol, so the file can be replayed as it is once fixed.
        text.Append("# rejected by InfluxDB at ").Append(now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
            .Append(" with ").Append(status).Append(": ").Append(error.ReplaceLineEndings(" ")).Append('\n');
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        try
        {
            lock (_gate)
            {
                if (Refusal(_bytes, bytes.Length, FreeBytes()) is { } cause)
                {
                    Refuse(cause, lines.Count, "(influx batch)", status, _bytes);
                    return null;
                }

                Directory.CreateDirectory(Folder);
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
                file.Write(bytes);
                file.Flush(flushToDisk: true);
                _bytes += bytes.Length;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _metrics.DeadLetterFailures.Add(lines.Count);
            Log.DeadLetterFailed(_logger, ex, path, "(influx batch)", status);
            return null;
        }

        return path;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    // The host may dispose synchronously.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void EnsureStarted()
    {
        if (_loop is null)
        {
            lock (_gate)
            {
                if (!_recovered)
                {
                    _recovered = true;
                    Recover();
                }

                _loop ??= Task.Run(WriteLoopAsync);
            }
        }
    }

    // Under _gate, once: the highest journal sequence in the kept files (the first property of each file's last line),
    // after cutting off a partial last line a crash left (its message is after the last checkpoint: the replay writes it
    // again).
    private void Recover()
    {
        if (!Directory.Exists(Folder))
        {
            return;
        }

        foreach (var path in Directory.EnumerateFiles(Folder, "influx-rejected-*.lp"))
        {
            try
            {
                _bytes += new FileInfo(path).Length;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.DeadLetterFailed(_logger, ex, path, "(reading the kept dead letters)", "recovery");
            }
        }

        foreach (var path in Directory.EnumerateFiles(Folder, "messages-*.jsonl"))
        {
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                var end = LastLineEnd(file);
                if (end < file.Length)
                {
                    Log.DeadLetterTornLine(_logger, path, file.Length - end);
                    file.SetLength(end);
                    file.Flush(flushToDisk: true);
                }

                _bytes += end;
                if (end > 0 && ReadSequence(file, LastLineStart(file, end)) is { } sequence && sequence > _highestKept)
                {
                    _highestKept = sequence;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Unreadable: its messages may be written again on a replay, never lost.
                _metrics.DeadLetterFailures.Add(1);
                Log.DeadLetterFailed(_logger, ex, path, "(reading the kept dead letters)", "recovery");
            }
        }
    }

    // The end of the last whole line: just after the last '\n' (0 when there is none).
    private static long LastLineEnd(FileStream file) => LastNewlineBefore(file, file.Length) + 1;

    // The start of the line that ends at `end` (just after a '\n').
    private static long LastLineStart(FileStream file, long end) => LastNewlineBefore(file, end - 1) + 1;

    // The offset of the last '\n' before `end`, or -1.
    private static long LastNewlineBefore(FileStream file, long end)
    {
        var chunk = new byte[64 * 1024];
        while (end > 0)
        {
            var start = Math.Max(0, end - chunk.Length);
            var span = chunk.AsSpan(0, (int)(end - start));
            RandomAccess.Read(file.SafeFileHandle, span, start);
            var at = span.LastIndexOf((byte)'\n');
            if (at >= 0)
            {
                return start + at;
            }

            end = start;
        }

        return -1;
    }

    // The "sequence" property that starts a line; null for lines written before dead letters carried one.
    private static long? ReadSequence(FileStream file, long lineStart)
    {
        var head = new byte[64];
        var read = RandomAccess.Read(file.SafeFileHandle, head, lineStart);
        var json = new Utf8JsonReader(head.AsSpan(0, read), isFinalBlock: false, state: default);
        try
        {
            return json.Read() && json.TokenType == JsonTokenType.StartObject
                && json.Read() && json.TokenType == JsonTokenType.PropertyName && json.ValueTextEquals("sequence"u8)
                && json.Read() && json.TokenType == JsonTokenType.Number && json.TryGetInt64(out var sequence)
                ? sequence
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Item>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < 4096 && reader.TryRead(out var item))
            {
                group.Add(item);
            }

            try
            {
                WriteGroup(group);
            }
            catch (Exception ex)
            {
                // A bug, not the disk (WriteGroup handles I/O errors): say so, and keep the loop alive.
                _metrics.LoopFailures.Add(1, new KeyValuePair<string, object?>("loop", "deadletter"));
                Log.LoopFailed(_logger, ex, "dead-letter", ex.Message, TimeSpan.Zero);
            }
            finally
            {
                foreach (var item in group)
                {
                    item.Flushed?.TrySetResult();
                }
            }
        }
    }

    // Writes the group in order, one run of consecutive lines of one file at a time (never a later line before an
    // earlier one: the highest sequence kept must mean everything below it is kept).
    private void WriteGroup(List<Item> group)
    {
        var messages = group.Where(i => i.File is not null).ToList();
        for (var first = 0; first < messages.Count;)
        {
            var next = first + 1;
            while (next < messages.Count && string.Equals(messages[next].File, messages[first].File, StringComparison.Ordinal))
            {
                next++;
            }

            WriteRun(messages[first].File!, messages.GetRange(first, next - first));
            first = next;
        }
    }

    private void WriteRun(string name, List<Item> run)
    {
        var path = Path.Combine(Folder, name);
        try
        {
            lock (_gate)
            {
                // Under the lock: a rejected InfluxDB batch counts against the same budget.
                run = WithinBudget(run);
                if (run.Count == 0)
                {
                    return;
                }

                Directory.CreateDirectory(Folder);
                using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
                foreach (var item in run)
                {
                    file.Write(item.Json);
                }

                file.Flush(flushToDisk: true);
                _bytes += run.Sum(i => (long)i.Json!.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            foreach (var item in run)
            {
                _metrics.DeadLetterFailures.Add(1);
                Log.DeadLetterFailed(_logger, ex, path, item.Topic!, item.Reason!);
            }
        }
    }

    // The lines of the run that fit the byte budget and leave the disk reserve free; the others are counted and logged.
    private List<Item> WithinBudget(List<Item> run)
    {
        var free = FreeBytes();
        var kept = new List<Item>(run.Count);
        var bytes = _bytes;
        foreach (var item in run)
        {
            var length = item.Json!.Length;
            var cause = Refusal(bytes, length, free);
            if (cause is null)
            {
                kept.Add(item);
                bytes += length;
                free -= length;
                continue;
            }

            Refuse(cause, 1, item.Topic!, item.Reason!, bytes);
        }

        return kept;
    }

    // Why `length` more bytes may not be kept, with `kept` bytes kept and `free` bytes free on the disk: "budget",
    // "reserve", or null when they may.
    private string? Refusal(long kept, long length, long? free) =>
        kept + length > _maxBytes ? "budget"
        : free is { } f && f - length < _reserveBytes ? "reserve"
        : null;

    // Counts `count` refused dead letters (a message's line, or a rejected batch's lines) and logs it, throttled.
    private void Refuse(string cause, long count, string topic, string reason, long kept)
    {
        _metrics.DeadLettersRefused.Add(count, new KeyValuePair<string, object?>("cause", cause));
        if (_throttle.ShouldLog("refused-" + cause, out var suppressed))
        {
            var why = cause == "budget"
                ? "the dead letters reached PrintFarm:DeadLetterMaxBytes"
                : "it would leave less than PrintFarm:DeadLetterDiskReserveBytes free on the disk (kept for the checkpoint)";
            Log.DeadLetterRefused(_logger, topic, reason, why, kept, _maxBytes, suppressed);
        }
    }

    // Free bytes on the disk of the dead-letter folder; null when the reserve is off or the disk cannot be asked.
    private long? FreeBytes()
    {
        if (_reserveBytes <= 0)
        {
            return null;
        }

        try
        {
            Directory.CreateDirectory(Folder);
            return new DriveInfo(Folder).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private sealed record Item(string? File, byte[]? Json, string? Topic, string? Reason, TaskCompletionSource? Flushed);
}
