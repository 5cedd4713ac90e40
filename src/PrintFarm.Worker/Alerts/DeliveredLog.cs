using System.Text;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.Worker.Alerts;

/// <summary>
/// What the alert publisher has delivered since the last checkpoint: one line per delivery, <c>{key} {channel}</c>, in
/// <c>checkpoint/delivered.log</c>, written and flushed to disk right after the delivery succeeded. A restart reads it,
/// and a replay of the journal that brings back an alert or notification already delivered on a channel does not
/// deliver it there again. Each checkpoint compacts it to the lines a restart from that checkpoint still needs.
/// </summary>
/// <remarks>
/// A kill between a delivery and its line is the one window left: that one delivery may be repeated, with the same
/// idempotency key. An unreadable line costs only the duplicate check for that delivery.
/// </remarks>
internal sealed class DeliveredLog : IDisposable
{
    public const string FileName = "delivered.log";

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly ILogger<DeliveredLog> _logger;
    private readonly List<string> _lines = [];
    private HashSet<string> _set = new(StringComparer.Ordinal);
    private long _dropped; // lines removed from the front of _lines by compaction, so marks stay valid
    private FileStream? _file;

    public DeliveredLog(DataFolders folders, ILogger<DeliveredLog> logger)
    {
        _path = Path.Combine(folders.Checkpoint, FileName);
        _logger = logger;
        try
        {
            if (File.Exists(_path))
            {
                foreach (var line in File.ReadAllLines(_path, Encoding.UTF8))
                {
                    // A kill mid-write leaves a torn last line: it matches no key and so only costs its own check.
                    if (line.Length > 0 && line.IndexOf(' ', StringComparison.Ordinal) > 0 && _set.Add(line))
                    {
                        _lines.Add(line);
                    }
                }
            }
        }
        catch (IOException ex)
        {
            Log.DeliveredLogFailed(_logger, _path, ex.Message);
        }
    }

    /// <summary>Deliveries recorded.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _set.Count;
            }
        }
    }

    /// <summary>True when the item with <paramref name="key"/> has been delivered on <paramref name="channel"/>.</summary>
    public bool Contains(string key, string channel)
    {
        lock (_lock)
        {
            return _set.Contains(Line(key, channel));
        }
    }

    /// <summary>Records a delivery, on disk before it returns.</summary>
    public void Record(string key, string channel)
    {
        var line = Line(key, channel);
        lock (_lock)
        {
            if (!_set.Add(line))
            {
                return;
            }

            _lines.Add(line);
            try
            {
                _file ??= Open();
                var bytes = Encoding.UTF8.GetBytes(line + "\n");
                _file.Write(bytes);
                _file.Flush(flushToDisk: true);
            }
            catch (IOException ex)
            {
                // The delivery happened; only the duplicate check after a crash is lost.
                Log.DeliveredLogFailed(_logger, _path, ex.Message);
                _file?.Dispose();
                _file = null;
            }
        }
    }

    /// <summary>A mark of what is recorded now; take it where the checkpoint's state is captured.</summary>
    public long Mark()
    {
        lock (_lock)
        {
            return _dropped + _lines.Count;
        }
    }

    /// <summary>
    /// After the checkpoint captured at <paramref name="mark"/> is saved: keeps only deliveries recorded after the mark
    /// and those of items still in that checkpoint's outbox (<paramref name="outboxKeys"/>), which its restart delivers
    /// again. Everything else a replay from that checkpoint can never bring back.
    /// </summary>
    public void Compact(long mark, IReadOnlySet<string> outboxKeys)
    {
        lock (_lock)
        {
            var cut = (int)Math.Clamp(mark - _dropped, 0, _lines.Count);
            var kept = _lines.Take(cut).Where(l => outboxKeys.Contains(l[..l.IndexOf(' ', StringComparison.Ordinal)])).Concat(_lines.Skip(cut)).ToList();
            if (kept.Count == _lines.Count)
            {
                return;
            }

            try
            {
                var tmp = _path + ".tmp";
                using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    stream.Write(Encoding.UTF8.GetBytes(string.Concat(kept.Select(l => l + "\n"))));
                    stream.Flush(flushToDisk: true);
                }

                _file?.Dispose();
                _file = null;
                DurableFiles.Rename(tmp, _path, overwrite: true);
            }
            catch (IOException ex)
            {
                // Kept as it was: longer than needed, never shorter.
                Log.DeliveredLogFailed(_logger, _path, ex.Message);
                return;
            }

            _dropped += _lines.Count - kept.Count; // marks count lines ever recorded
            _lines.Clear();
            _lines.AddRange(kept);
            _set = new HashSet<string>(kept, StringComparer.Ordinal);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        return new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    private static string Line(string key, string channel) => key + " " + channel;
}
