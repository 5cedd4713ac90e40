using System.Collections.Concurrent;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>
/// Lets through at most one log line per key per period and counts what it held back, so a flood of bad input
/// (a printer publishing garbage ten times a second) cannot flood the log. Counters and dead letters still see
/// every message; only the log is thinned.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan period)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>True when a line for <paramref name="key"/> may be logged now; <paramref name="suppressed"/> is how many were held back since the last.</summary>
    public bool ShouldLog(string key, out long suppressed)
    {
        var now = time.GetTimestamp();
        var entry = _entries.GetOrAdd(key, _ => new Entry());
        lock (entry)
        {
            if (entry.HasLogged && time.GetElapsedTime(entry.LastLogged, now) < period)
            {
                entry.Suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = entry.Suppressed;
            entry.Suppressed = 0;
            entry.LastLogged = now;
            entry.HasLogged = true;
            return true;
        }
    }

    private sealed class Entry
    {
        public bool HasLogged;
        public long LastLogged;
        public long Suppressed;
    }
}
