using System.Globalization;

namespace PrintFarm.Core.Kpis;

/// <summary>
/// A tumbling event-time window size, such as <c>1h</c> or <c>1d</c>. Sub-day windows align to UTC. Whole-day
/// windows align to midnight in <see cref="TimeZone"/> (UTC unless the farm's time zone is configured), so "today"
/// is the operator's day; across a daylight-saving change such a day lasts 23 or 25 hours.
/// </summary>
public sealed record WindowSpec
{
    private WindowSpec(string name, TimeSpan size, TimeZoneInfo? timeZone)
    {
        Name = name;
        Size = size;
        TimeZone = timeZone;
    }

    /// <summary>What <see cref="TryParse"/> accepts, for error messages.</summary>
    public const string Grammar = "a whole number followed by s, m, h or d (for example 15m, 1h, 1d), dividing a day evenly or a whole number of days";

    /// <summary>The <c>window</c> tag value: a whole number and a unit, <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>.</summary>
    public string Name { get; }

    /// <summary>Nominal window length (a local day can be an hour shorter or longer).</summary>
    public TimeSpan Size { get; }

    /// <summary>Time zone whose midnight starts whole-day windows; <see langword="null"/> for UTC and for sub-day windows.</summary>
    public TimeZoneInfo? TimeZone { get; }

    private bool IsLocalDays => TimeZone is not null;

    /// <summary>
    /// Parses <c>30s</c>, <c>15m</c>, <c>1h</c>, <c>1d</c>, … Sizes must tile a day (so windows align to midnight) or be whole
    /// days. <paramref name="dayTimeZone"/> aligns whole-day windows to that zone's midnight.
    /// </summary>
    public static bool TryParse(string? text, out WindowSpec? spec, TimeZoneInfo? dayTimeZone = null)
    {
        spec = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var t = text.Trim().ToLowerInvariant();
        if (t.Length < 2 || !long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > 3650)
        {
            return false;
        }

        TimeSpan size;
        switch (t[^1])
        {
            case 's': size = TimeSpan.FromSeconds(n); break;
            case 'm': size = TimeSpan.FromMinutes(n); break;
            case 'h': size = TimeSpan.FromHours(n); break;
            case 'd': size = TimeSpan.FromDays(n); break;
            default: return false;
        }

        var day = TimeSpan.TicksPerDay;
        var wholeDays = size.Ticks % day == 0;
        if (!wholeDays && day % size.Ticks != 0)
        {
            return false;
        }

        var zone = wholeDays && dayTimeZone is not null && dayTimeZone != TimeZoneInfo.Utc ? dayTimeZone : null;
        spec = new WindowSpec(string.Create(CultureInfo.InvariantCulture, $"{n}{t[^1]}"), size, zone);
        return true;
    }

    /// <summary>Parses or throws.</summary>
    /// <exception cref="FormatException">Not a valid window size.</exception>
    public static WindowSpec Parse(string text, TimeZoneInfo? dayTimeZone = null) =>
        TryParse(text, out var spec, dayTimeZone) ? spec! : throw new FormatException($"'{text}' is not a window size: use {Grammar}");

    /// <summary>Start of the window that contains <paramref name="time"/>.</summary>
    public DateTimeOffset StartOf(DateTimeOffset time)
    {
        if (!IsLocalDays)
        {
            var ticks = time.UtcTicks;
            return new DateTimeOffset(ticks - (ticks % Size.Ticks), TimeSpan.Zero);
        }

        var localDay = TimeZoneInfo.ConvertTime(time, TimeZone!).Date.Ticks / TimeSpan.TicksPerDay;
        var days = Size.Ticks / TimeSpan.TicksPerDay;
        return LocalMidnightUtc(localDay - (localDay % days));
    }

    /// <summary>End (exclusive) of the window that starts at <paramref name="start"/>: the next window's start.</summary>
    public DateTimeOffset EndOf(DateTimeOffset start)
    {
        if (!IsLocalDays)
        {
            return start + Size;
        }

        var localDay = TimeZoneInfo.ConvertTime(start, TimeZone!).Date.Ticks / TimeSpan.TicksPerDay;
        return LocalMidnightUtc(localDay + (Size.Ticks / TimeSpan.TicksPerDay));
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private DateTimeOffset LocalMidnightUtc(long localDay)
    {
        var local = new DateTime(localDay * TimeSpan.TicksPerDay, DateTimeKind.Unspecified);

        // A few zones skip midnight on their DST day: the day then starts at the first valid local time.
        while (TimeZone!.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }

        return new DateTimeOffset(local, TimeZone.GetUtcOffset(local)).ToUniversalTime();
    }
}
