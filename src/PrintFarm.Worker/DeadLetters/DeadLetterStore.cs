using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.Worker.DeadLetters;

/// <summary>
/// Keeps every message the pipeline could not use, with its topic, receive time and reason, as one JSON line in
/// <c>{DataFolder}/deadletter/messages-yyyyMMdd.jsonl</c>; and every batch InfluxDB refused as bad data as a
/// line-protocol file in the same folder. Nothing is dropped silently: when the disk itself fails, the log says so
/// and a counter counts it.
/// </summary>
internal sealed class DeadLetterStore
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger<DeadLetterStore> _logger;
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

    /// <summary>Keeps a rejected MQTT message.</summary>
    public void Write(string topic, ReadOnlyMemory<byte> payload, bool retained, DateTimeOffset receivedAt, string reason, string detail)
    {
        var path = Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"messages-{receivedAt.UtcDateTime:yyyyMMdd}.jsonl"));
        try
        {
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
            lock (_gate)
            {
                Directory.CreateDirectory(Folder);
                using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
                buffer.Position = 0;
                buffer.CopyTo(file);
                file.Flush(flushToDisk: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _metrics.DeadLetterFailures.Add(1);
            Log.DeadLetterFailed(_logger, ex, path, topic, reason);
        }
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
                File.WriteAllText(path, text.ToString());
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _metrics.DeadLetterFailures.Add(lines.Count);
            Log.DeadLetterFailed(_logger, ex, path, "(influx batch)", status);
        }

        return path;
    }
}
