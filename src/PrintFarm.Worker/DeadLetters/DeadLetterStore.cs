using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
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

    public DeadLetterStore(DataFolders folders, TimeProvider time, PrintFarmInstrumentation metrics, ILogger<DeadLetterStore> logger)
    {
        Folder = folders.DeadLetters;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The folder dead letters are kept in.</summary>
    public string Folder { get; }

    /// <summary>Queues a rejected MQTT message for the store; waits while the queue is full.</summary>
    public ValueTask WriteAsync(string topic, ReadOnlyMemory<byte> payload, bool retained, DateTimeOffset receivedAt, string reason, string detail)
    {
        EnsureStarted();
        var buffer = new MemoryStream(payload.Length * 4 / 3 + 256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("received_at", receivedAt.UtcDateTime);
            json.WriteString("topic", topic);
            json.WriteBoolean("retained", retained);
            json.WriteString("reason", reason);
            json.WriteString("detail", detail);
            json.WriteNumber("size", payload.Length);
            json.WriteBase64String("payload_base64", payload.Span);
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

    /// <summary>Keeps a batch of line protocol that InfluxDB refused; returns the file's path.</summary>
    public string WriteRejectedBatch(IReadOnlyList<string> lines, string status, string error)
    {
        var now = _time.GetUtcNow();
        var seq = Interlocked.Increment(ref _sequence);
        var path = Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"influx-rejected-{now.UtcDateTime:yyyyMMddTHHmmssfff}-{seq}.lp"));
        try
        {
            var text = new StringBuilder();
            // '#' starts a comment in line protocol, so the file can be replayed as it is once fixed.
            text.Append("# rejected by InfluxDB at ").Append(now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
                .Append(" with ").Append(status).Append(": ").Append(error.ReplaceLineEndings(" ")).Append('\n');
            foreach (var line in lines)
            {
                text.Append(line).Append('\n');
            }

            lock (_gate)
            {
                Directory.CreateDirectory(Folder);
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
                file.Write(Encoding.UTF8.GetBytes(text.ToString()));
                file.Flush(flushToDisk: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _metrics.DeadLetterFailures.Add(lines.Count);
            Log.DeadLetterFailed(_logger, ex, path, "(influx batch)", status);
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
                _loop ??= Task.Run(WriteLoopAsync);
            }
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

    private void WriteGroup(List<Item> group)
    {
        foreach (var byFile in group.Where(i => i.File is not null).GroupBy(i => i.File!, StringComparer.Ordinal))
        {
            var path = Path.Combine(Folder, byFile.Key);
            try
            {
                lock (_gate)
                {
                    Directory.CreateDirectory(Folder);
                    using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
                    foreach (var item in byFile)
                    {
                        file.Write(item.Json);
                    }

                    file.Flush(flushToDisk: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                foreach (var item in byFile)
                {
                    _metrics.DeadLetterFailures.Add(1);
                    Log.DeadLetterFailed(_logger, ex, path, item.Topic!, item.Reason!);
                }
            }
        }
    }

    private sealed record Item(string? File, byte[]? Json, string? Topic, string? Reason, TaskCompletionSource? Flushed);
}
