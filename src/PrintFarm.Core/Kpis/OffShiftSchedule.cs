using System.Globalization;

namespace PrintFarm.Core.Kpis;

/// <summary>
/// Declared off-shift time: a weekly schedule of local-time ranges in the farm's time zone (for example
/// <c>Sat-Sun 00:00-24:00</c>, <c>Mon-Fri 22:00-06:00</c>, a range past midnight running into the next day). Off-shift
/// time is not planned time, so it does not count against availability.
/// </summary>
public sealed class OffShiftSchedule
{
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    private readonly (int Days, TimeSpan From, TimeSpan To)[] _ranges;
    private readonly TimeZoneInfo _zone;

    private OffShiftSchedule((int, TimeSpan, TimeSpan)[] ranges, TimeZoneInfo zone)
    {
        _ranges = ranges;
        _zone = zone;
    }

    /// <summary>What <see cref="TryParse"/> accepts, for error messages.</summary>
    public const string Grammar = "ranges separated by ';', each 'Day[-Day] HH:mm-HH:mm' with days Mon..Sun (for example 'Mon-Fri 22:00-06:00; Sat-Sun 00:00-24:00')";

    /// <summary>No off-shift time.</summary>
    public static OffShiftSchedule None { get; } = new([], TimeZoneInfo.Utc);

    /// <summary>True when no range is declared.</summary>
    public bool IsEmpty => _ranges.Length == 0;

    /// <summary>Parses a schedule (see <see cref="Grammar"/>); empty text is no off-shift time.</summary>
    public static bool TryParse(string? text, TimeZoneInfo? zone, out OffShiftSchedule? schedule, out string? problem)
    {
        schedule = null;
        problem = null;
        var ranges = new List<(int, TimeSpan, TimeSpan)>();
        foreach (var part in (text ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bits = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (bits.Length != 2 || !TryDays(bits[0], out var days) || !TryRange(bits[1], out var from, out var to))
            {
                problem = $"'{part}' is not an off-shift range: use {Grammar}";
                return false;
            }

            ranges.Add((days, from, to));
        }

        schedule = new OffShiftSchedule([.. ranges], zone ?? TimeZoneInfo.Utc);
        return true;
    }

    /// <summary>
    /// Whether <paramref name="time"/> is off-shift, and until when (exclusive, UTC ticks) that stays so; the answer holds
    /// at least up to the next local midnight or range edge.
    /// </summary>
    public bool IsOffShift(long time, out long until)
    {
        if (_ranges.Length == 0)
        {
            until = long.MaxValue;
            return false;
        }

        // Candidate edges: every range's start and end on the local days around the instant, in UTC.
        var utc = new DateTimeOffset(time, TimeSpan.Zero);
        var localDay = TimeZoneInfo.ConvertTime(utc, _zone).Date;
        var off = false;
        until = long.MaxValue;
        for (var d = -1; d <= 1; d++)
        {
            var day = localDay.AddDays(d);
            until = Math.Min(until, After(LocalToUtc(day.AddDays(1)), time));
            foreach (var (days, from, to) in _ranges)
            {
                if ((days & (1 << (int)day.DayOfWeek)) == 0)
                {
                    continue;
                }

                var start = LocalToUtc(day + from);
                var end = LocalToUtc(to > from ? day + to : day.AddDays(1) + to);
                if (start <= time && time < end)
                {
                    off = true;
                }

                until = Math.Min(until, Math.Min(After(start, time), After(end, time)));
            }
        }

        return off;
    }

    private static long After(long edge, long time) => edge > time ? edge : long.MaxValue;

    private long LocalToUtc(DateTime local)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);

        // A local time skipped by a DST change starts at the first valid time after it.
        while (_zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        return new DateTimeOffset(local, _zone.GetUtcOffset(local)).UtcTicks;
    }

    private static bool TryDays(string text, out int mask)
    {
        mask = 0;
        var ends = text.Split('-');
        if (ends.Length is < 1 or > 2)
        {
            return false;
        }

        var first = Array.IndexOf(DayNames, ends[0].ToLowerInvariant());
        var last = Array.IndexOf(DayNames, ends[^1].ToLowerInvariant());
        if (first < 0 || last < 0)
        {
            return false;
        }

        for (var d = first; ; d = (d + 1) % 7)
        {
            mask |= 1 << d;
            if (d == last)
            {
                return true;
            }
        }
    }

    private static bool TryRange(string text, out TimeSpan from, out TimeSpan to)
    {
        from = to = default;
        var ends = text.Split('-');
        return ends.Length == 2 && TryTime(ends[0], out from) && TryTime(ends[1], out to) && from != to && from < TimeSpan.FromDays(1);
    }

    private static bool TryTime(string text, out TimeSpan time)
    {
        time = default;
        if (text == "24:00")
        {
            time = TimeSpan.FromDays(1);
            return true;
        }

        return TimeSpan.TryParseExact(text, @"hh\:mm", CultureInfo.InvariantCulture, out time);
    }
}
