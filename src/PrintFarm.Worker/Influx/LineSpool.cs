using System.Globalization;
using System.Text;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// Batches of line protocol kept on disk while InfluxDB cannot take them, one file per batch, named so that the
/// oldest sorts first. Survives restarts: files left by an earlier run are replayed. Each file is written to a
/// temporary name and renamed, so a crash never leaves half a batch. Thread-safe.
/// </summary>
internal sealed class LineSpool
{
    private const string Extension = ".lp";
    private readonly object _gate = new();
    private readonly SortedDictionary<string, long> _files = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private long _bytes;
    private long _sequence;
    private bool _scanned;

    public LineSpool(string folder, long maxBytes, TimeProvider time)
    {
        Folder = folder;
        MaxBytes = maxBytes;
        _time = time;
        try
        {
            Scan();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // An unusable spool folder must not stop the worker from starting: Append and TryPeekOldest scan it again
            // and throw, so the writer logs, counts and retries, and the journal keeps the messages meanwhile.
        }
    }

    public string Folder { get; }

    public long MaxBytes { get; }

    /// <summary>Batches waiting.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _files.Count;
            }
        }
    }

    /// <summary>Bytes waiting.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Keeps a batch. Returns the batches dropped (oldest first) to stay within <see cref="MaxBytes"/>, each with its line count.</summary>
    public IReadOnlyList<(string File, int Lines)> Append(IReadOnlyList<string> lines)
    {
        lock (_gate)
        {
            if (!_scanned)
            {
                Scan();
            }
        }

        var text = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        var name = string.Create(CultureInfo.InvariantCulture, $"{_time.GetUtcNow().UtcTicks:D19}-{Interlocked.Increment(ref _sequence):D9}{Extension}");
        var path = Path.Combine(Folder, name);
        var tmp = path + ".tmp";
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(text);
            file.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);

        List<(string, int)>? dropped = null;
        lock (_gate)
        {
            _files[name] = text.Length;
            _bytes += text.Length;
            while (_bytes > MaxBytes && _files.Count > 1)
            {
                var oldest = _files.First();
                var oldestPath = Path.Combine(Folder, oldest.Key);
                var count = CountLines(oldestPath);
                RemoveLocked(oldest.Key);
                (dropped ??= []).Add((oldest.Key, count));
            }
        }

        return dropped ?? (IReadOnlyList<(string, int)>)[];
    }

    /// <summary>The oldest batch, if any. Throws when the file is there but cannot be read (the caller retries later).</summary>
    public bool TryPeekOldest(out string name, out IReadOnlyList<string> lines)
    {
        lock (_gate)
        {
            if (!_scanned)
            {
                Scan();
            }

            while (_files.Count > 0)
            {
                name = _files.First().Key;
                try
                {
                    var text = File.ReadAllText(Path.Combine(Folder, name));
                    lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    return true;
                }
                catch (FileNotFoundException)
                {
                    // Removed by hand: forget it.
                    RemoveLocked(name);
                }
            }
        }

        name = string.Empty;
        lines = [];
        return false;
    }

    /// <summary>Forgets a batch once it has been written.</summary>
    public void Remove(string name)
    {
        lock (_gate)
        {
            RemoveLocked(name);
        }
    }

    private void RemoveLocked(string name)
    {
        if (_files.Remove(name, out var length))
        {
            _bytes -= length;
        }

        try
        {
            File.Delete(Path.Combine(Folder, name));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not lost: the file stays on disk and the next start replays it again; a point written twice is the
            // same point, which InfluxDB overwrites.
        }
    }

    // Creates the folder and learns the batches an earlier run left in it. Throws while the folder is unusable.
    private void Scan()
    {
        Directory.CreateDirectory(Folder);
        foreach (var path in Directory.EnumerateFiles(Folder, "*" + Extension))
        {
            var length = new FileInfo(path).Length;
            if (_files.TryAdd(Path.GetFileName(path), length))
            {
                _bytes += length;
            }
        }

        foreach (var tmp in Directory.EnumerateFiles(Folder, "*.tmp"))
        {
            // Half-written by a crash before its rename: the batch is still in the journal.
            try
            {
                File.Delete(tmp);
            }
            catch (IOException)
            {
            }
        }

        _scanned = true;
    }

    private static int CountLines(string path)
    {
        try
        {
            return File.ReadLines(path).Count();
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
