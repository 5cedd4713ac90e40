using System.Globalization;

namespace PrintFarm.LoadGen.Bench;

/// <summary>Reads a process's memory and CPU time from /proc (Linux).</summary>
internal static class Procfs
{
    private const double ClockTicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>Peak resident set size (VmHWM) in bytes, or 0 when the process is gone.</summary>
    public static long PeakRss(int pid) => StatusKb(pid, "VmHWM:") * 1024;

    /// <summary>Current resident set size (VmRSS) in bytes, or 0 when the process is gone.</summary>
    public static long Rss(int pid) => StatusKb(pid, "VmRSS:") * 1024;

    /// <summary>User + system CPU seconds used so far, or 0 when the process is gone (or the pid is 0).</summary>
    public static double CpuSeconds(int pid)
    {
        if (pid <= 0)
        {
            return 0;
        }

        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime field 15.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Seconds the process's threads spent runnable but waiting for a CPU (sum of the second field of
    /// <c>/proc/&lt;pid&gt;/task/*/schedstat</c>), or 0 when the process is gone: on a shared machine this says how much
    /// of a phase a process was starved rather than busy or idle.
    /// </summary>
    public static double RunQueueSeconds(int pid)
    {
        if (pid <= 0)
        {
            return 0;
        }

        long total = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                    total += long.Parse(fields[1], CultureInfo.InvariantCulture);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The thread ended.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        return total / 1e9;
    }

    private static long StatusKb(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Gone.
        }

        return 0;
    }
}
