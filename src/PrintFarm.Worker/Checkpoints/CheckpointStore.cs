using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.Worker.Checkpoints;

/// <summary>
/// The processor's checkpoint on disk: <c>{DataFolder}/checkpoint/state.json</c>, replaced atomically (written to a
/// temporary file, flushed, renamed) so a crash leaves either the old or the new one. A file that cannot be read is
/// moved aside as <c>state.json.bad-{time}</c> with a log line, and the worker starts empty rather than not at all.
/// </summary>
internal sealed class CheckpointStore
{
    private readonly TimeProvider _time;
    private readonly ILogger<CheckpointStore> _logger;
    private long _lastSavedTicks;

    public CheckpointStore(DataFolders folders, TimeProvider time, ILogger<CheckpointStore> logger)
    {
        Folder = folders.Checkpoint;
        Path = System.IO.Path.Combine(Folder, "state.json");
        _time = time;
        _logger = logger;
    }

    public string Folder { get; }

    public string Path { get; }

    /// <summary>Reads the checkpoint, or returns null when there is none or it is unreadable (then moved aside).</summary>
    public JsonObject? TryLoad()
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(Path);
            return JsonNode.Parse(stream) as JsonObject ?? throw new JsonException("the checkpoint is not a JSON object");
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            MoveAside(ex.Message);
            return null;
        }
    }

    /// <summary>Moves an unusable checkpoint aside so the next start does not trip on it again.</summary>
    public void MoveAside(string reason)
    {
        var aside = Path + ".bad-" + _time.GetUtcNow().UtcDateTime.ToString("yyyyMMddTHHmmss", CultureInfo.InvariantCulture);
        try
        {
            File.Move(Path, aside, overwrite: true);
            Log.CheckpointUnusable(_logger, Path, reason, aside);
        }
        catch (IOException ex)
        {
            Log.CheckpointUnusable(_logger, Path, reason + "; moving it aside failed too: " + ex.Message, Path);
        }
    }

    /// <summary>Writes the checkpoint atomically.</summary>
    public void Save(JsonObject checkpoint) => Write(writer => checkpoint.WriteTo(writer));

    /// <summary>Writes a captured snapshot atomically, with the host's own properties added by <paramref name="extra"/>.</summary>
    public void Save(CheckpointSnapshot snapshot, Action<Utf8JsonWriter> extra) => Write(writer => snapshot.WriteTo(writer, extra));

    private void Write(Action<Utf8JsonWriter> write)
    {
        Directory.CreateDirectory(Folder);
        var tmp = Path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            // A Utf8JsonWriter over a Stream keeps the whole document in memory until it is flushed (15 MB at 10,000
            // printers, grown by doubling on the large-object heap at every checkpoint); through this buffer writer
            // the document goes to the file 64 KiB at a time.
            using (var output = new StreamBufferWriter(stream))
            {
                using (var writer = new Utf8JsonWriter(output))
                {
                    write(writer);
                }

                output.Drain();
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, Path, overwrite: true);
        Interlocked.Exchange(ref _lastSavedTicks, _time.GetUtcNow().UtcTicks);
    }

    /// <summary>When this run last wrote the checkpoint; null before the first save (read by health checks and gauges on other threads).</summary>
    public DateTimeOffset? LastSaved => Interlocked.Read(ref _lastSavedTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;
}

/// <summary>
/// An <see cref="IBufferWriter{T}"/> with one pooled buffer that writes what is committed to a stream whenever more
/// room is asked for: memory stays at the buffer's size however large the document.
/// </summary>
internal sealed class StreamBufferWriter(Stream stream, int size = 1 << 16) : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(size);
    private int _count;

    public void Advance(int count) => _count += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(Room(sizeHint));

    public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(Room(sizeHint));

    /// <summary>Writes what is committed to the stream.</summary>
    public void Drain()
    {
        if (_count > 0)
        {
            stream.Write(_buffer, 0, _count);
            _count = 0;
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    // The writer commits (Advance) everything it wrote before it asks for more room, so draining here is safe.
    private int Room(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer.Length - _count < sizeHint)
        {
            Drain();
            if (_buffer.Length < sizeHint)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);
            }
        }

        return _count;
    }
}
