using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Journal;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Checkpoints;

/// <summary>
/// The processor's checkpoints on disk, in <c>{DataFolder}/checkpoint/</c>: the newest is <c>state.json</c> (the name
/// older versions used, so their checkpoint is read), the <see cref="Kept"/> − 1 before it are
/// <c>state-{n}.json</c>, larger n newer. A save writes a temporary file and fsyncs it, renames the newest to the next
/// <c>state-{n}.json</c>, renames the temporary file to <c>state.json</c> and fsyncs the folder (PostgreSQL's
/// <c>durable_rename</c>): only then may the journal segments before the oldest kept checkpoint be deleted. A crash
/// between the two renames leaves no <c>state.json</c>, and the newest <c>state-{n}.json</c> is the newest checkpoint.
/// <para>
/// At start the newest usable one is restored: one that cannot be read or restored is moved aside as
/// <c>{name}.bad-{time}</c>, the next older one is tried. When none is usable and the journal no longer reaches back
/// to its first record, the worker refuses to start (<see cref="StartupRefusedException"/>) unless
/// <see cref="Configuration.PrintFarmOptions.AcceptCheckpointLoss"/>: empty state would write the day's KPI windows
/// from zero over the points InfluxDB holds.
/// </para>
/// </summary>
internal sealed class CheckpointStore : ICheckpointStore<JournalPosition>
{
    /// <summary>How many checkpoints are kept (the newest and the ones before it), each with the journal it needs.</summary>
    public const int Kept = 3;

    private const string PreviousPrefix = "state-";
    private const string Extension = ".json";

    private readonly TimeProvider _time;
    private readonly ILogger<CheckpointStore> _logger;
    private readonly Dictionary<string, JournalPosition?> _positions = new(StringComparer.Ordinal);
    private readonly string _journalFolder;
    private long _lastSavedTicks;

    /// <summary>The top-level property of a checkpoint that holds the journal position it reflects.</summary>
    public const string PositionProperty = "journal";

    public CheckpointStore(DataFolders folders, DataFolderLock folderLock, TimeProvider time, ILogger<CheckpointStore> logger)
    {
        _ = folderLock; // held: no other worker writes these files
        Folder = folders.Checkpoint;
        _journalFolder = folders.Journal;
        Path = System.IO.Path.Combine(Folder, "state" + Extension);
        _time = time;
        _logger = logger;
    }

    public string Folder { get; }

    /// <summary>The newest checkpoint.</summary>
    public string Path { get; }

    /// <summary>The checkpoints on disk, newest first.</summary>
    public IReadOnlyList<string> Candidates()
    {
        List<string> found = [];
        if (File.Exists(Path))
        {
            found.Add(Path);
        }

        found.AddRange(Previous().Select(p => p.Path));
        return found;
    }

    /// <summary>
    /// Restores the newest usable checkpoint through <paramref name="apply"/> (which restores the state and returns the
    /// journal position it reflects, or throws when the checkpoint cannot be restored) and returns its path and
    /// position; (null, null) means empty state, the journal replayed from <paramref name="journalStart"/>.
    /// </summary>
    /// <exception cref="StartupRefusedException">No checkpoint is usable, the journal does not start at its first record, and <paramref name="acceptLoss"/> is false.</exception>
    public (string? Path, JournalPosition? Position) Restore(Func<JsonObject, JournalPosition?> apply, JournalPosition journalStart, string journalFolder, bool acceptLoss)
    {
        ArgumentNullException.ThrowIfNull(apply);
        var candidates = Candidates();
        List<string> unusable = [];
        foreach (var path in candidates)
        {
            string reason;
            try
            {
                var checkpoint = Read(path);
                var position = JournalPosition.FromJson(checkpoint[PositionProperty]);
                if (position is { } p && p < journalStart)
                {
                    // Its records are gone: restoring it and reading from the journal's start would skip some.
                    Log.CheckpointBehindJournal(_logger, path, p.ToString(), journalStart.ToString());
                    unusable.Add($"{path}: needs the journal from {p}, which starts at {journalStart}");
                    continue;
                }

                position = apply(checkpoint) ?? position;
                _positions[path] = position;
                if (unusable.Count > 0)
                {
                    Log.CheckpointFellBack(_logger, path, checkpoint["saved_at"]?.ToString() ?? "?", unusable.Count, position?.ToString() ?? "its start");
                }

                return (path, position);
            }
            catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException or CheckpointException)
            {
                reason = ex.Message;
            }

            var aside = MoveAside(path, reason);
            unusable.Add($"{path}: {reason}");
            Log.CheckpointUnusableMovedAside(_logger, path, reason, aside);
        }

        if (candidates.Count == 0 && journalStart.Segment == 0)
        {
            return (null, null); // a first start
        }

        if (journalStart.Segment == 0)
        {
            // Nothing was deleted yet: replaying the whole journal rebuilds the state.
            Log.CheckpointRebuiltFromJournal(_logger, Folder, journalFolder);
            return (null, null);
        }

        var why = unusable.Count == 0 ? "there is none" : string.Join("; ", unusable);
        if (acceptLoss)
        {
            Log.CheckpointLossAccepted(_logger, Folder, why, journalStart.ToString());
            return (null, null);
        }

        throw new StartupRefusedException(
            $"No usable checkpoint in {Folder} ({why}), and the journal in {journalFolder} starts at {journalStart}: the segments " +
            "before it were deleted after a checkpoint had covered them. Starting with empty state would write the open KPI " +
            "windows (the day's too) from zero over the points already in InfluxDB. Put a good checkpoint back as " +
            $"{Path} (the .bad-* files are the damaged ones), or accept the loss for one start: run the worker once with " +
            "--accept-checkpoint-loss (or PrintFarm__AcceptCheckpointLoss=true). docs/reliability.md, \"Checkpoints\".");
    }

    string ICheckpointStore<JournalPosition>.Location => Path;

    ValueTask<(string? From, JournalPosition? Position)> ICheckpointStore<JournalPosition>.RestoreAsync(Action<JsonObject> apply, IMessageLog<JournalPosition> log, bool acceptLoss, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Restore(
            checkpoint =>
            {
                apply(checkpoint);
                return null;
            },
            log.Start,
            _journalFolder,
            acceptLoss));

    ValueTask<JournalPosition> ICheckpointStore<JournalPosition>.SaveAsync(CheckpointSnapshot snapshot, JournalPosition position, Action<Utf8JsonWriter> extra, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Save(snapshot, position, extra));

    /// <summary>Moves an unusable checkpoint aside so the next start does not trip on it again; returns where it went.</summary>
    public string MoveAside(string path, string reason)
    {
        var aside = path + ".bad-" + _time.GetUtcNow().UtcDateTime.ToString("yyyyMMddTHHmmss", CultureInfo.InvariantCulture);
        _positions.Remove(path);
        try
        {
            File.Move(path, aside, overwrite: true);
            return aside;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CheckpointMoveAsideFailed(_logger, path, reason, ex.Message);
            return path;
        }
    }

    /// <summary>
    /// Writes a checkpoint of <paramref name="position"/> durably, keeps the <see cref="Kept"/> newest, and returns the
    /// oldest journal position a kept checkpoint needs: segments wholly before it may be deleted, none after.
    /// </summary>
    public JournalPosition Save(CheckpointSnapshot snapshot, JournalPosition position, Action<Utf8JsonWriter> extra)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Write(
            writer => snapshot.WriteTo(writer, w =>
            {
                w.WritePropertyName(PositionProperty);
                position.ToJson().WriteTo(w);
                extra(w);
            }),
            position);
        return Retain(position);
    }

    /// <summary>Writes a checkpoint durably (tests; the journal position, if any, is in the document).</summary>
    public JournalPosition? Save(JsonObject checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var position = JournalPosition.FromJson(checkpoint[PositionProperty]);
        Write(writer => checkpoint.WriteTo(writer), position);
        return position is { } p ? Retain(p) : null;
    }

    private void Write(Action<Utf8JsonWriter> write, JournalPosition? position)
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

        if (File.Exists(Path))
        {
            var previous = PreviousPath(Previous().Select(p => p.Number).DefaultIfEmpty(0).Max() + 1);
            File.Move(Path, previous);
            if (_positions.Remove(Path, out var moved))
            {
                _positions[previous] = moved;
            }
        }

        File.Move(tmp, Path);
        _positions[Path] = position;

        // Both renames on disk before the caller deletes a journal segment: after a power loss the checkpoints on disk
        // are these, never an older one whose segments are gone.
        DurableFiles.FlushFolder(Folder);
        Interlocked.Exchange(ref _lastSavedTicks, _time.GetUtcNow().UtcTicks);
    }

    // Deletes the checkpoints beyond the kept ones and returns the oldest position a kept one needs.
    private JournalPosition Retain(JournalPosition newest)
    {
        var retain = newest;
        var previous = Previous();
        for (var i = 0; i < previous.Count; i++)
        {
            var path = previous[i].Path;
            if (i >= Kept - 1)
            {
                try
                {
                    File.Delete(path);
                    _positions.Remove(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Kept a while longer: the next save tries again.
                    Log.CheckpointDeleteFailed(_logger, path, ex.Message);
                }

                continue;
            }

            if (!_positions.TryGetValue(path, out var position))
            {
                position = ReadPosition(path);
                _positions[path] = position;
            }

            // One that cannot be read could not be restored either: it does not hold segments back.
            if (position is { } p && p < retain)
            {
                retain = p;
            }
        }

        return retain;
    }

    private static JsonObject Read(string path)
    {
        using var stream = File.OpenRead(path);
        return JsonNode.Parse(stream) as JsonObject ?? throw new JsonException("the checkpoint is not a JSON object");
    }

    // The top-level "journal" property, without building the whole document (15 MB at 10,000 printers).
    private static JournalPosition? ReadPosition(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var journal = reader.ValueTextEquals("journal"u8);
                reader.Read();
                if (journal)
                {
                    return JournalPosition.FromJson(JsonNode.Parse(ref reader));
                }

                reader.Skip();
            }

            return null;
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    // The state-{n}.json files, newest (largest n) first.
    private List<(long Number, string Path)> Previous()
    {
        if (!Directory.Exists(Folder))
        {
            return [];
        }

        return Directory.EnumerateFiles(Folder, PreviousPrefix + "*" + Extension)
            .Select(path => (Name: System.IO.Path.GetFileName(path), Path: path))
            .Where(f => f.Name.EndsWith(Extension, StringComparison.Ordinal))
            .Select(f => (Ok: long.TryParse(f.Name.AsSpan(PreviousPrefix.Length, f.Name.Length - PreviousPrefix.Length - Extension.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n), Number: n, f.Path))
            .Where(f => f.Ok)
            .Select(f => (f.Number, f.Path))
            .OrderByDescending(f => f.Number)
            .ToList();
    }

    private string PreviousPath(long number) => System.IO.Path.Combine(Folder, PreviousPrefix + number.ToString("D10", CultureInfo.InvariantCulture) + Extension);

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
