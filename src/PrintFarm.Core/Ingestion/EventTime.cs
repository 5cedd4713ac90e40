using System.Globalization;

namespace PrintFarm.Core.Ingestion;

/// <summary>Event-time conversions shared by the adapters.</summary>
internal static class EventTime
{
    // Epoch numbers below this are seconds, at or above it milliseconds: 1e11 s is the year 5138,
    // 1e11 ms is 1973, so no real timestamp is ambiguous.
    private const double MillisecondsThreshold = 1e11;

    /// <summary>Epoch seconds (below 1e11) or milliseconds (from 1e11) to a UTC time.</summary>
    public static bool TryFromEpoch(double value, out DateTimeOffset time)
    {
        time = default;
        if (!double.IsFinite(value) || value < 0)
        {
            return false;
        }

        var ms = value < MillisecondsThreshold ? value * 1000.0 : value;
        if (ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        time = DateTimeOffset.UnixEpoch.AddTicks((long)(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    // Date and time are both required: a bare time would take today's date from the wall clock and leak processing
    // time into event time. Fractions of a second are optional; an offset (or Z) is optional, UTC when absent.
    private static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd'T'HH:mm",
    ];

    /// <summary>An ISO-8601 date-time (with offset or <c>Z</c>; without one it is taken as UTC) to a UTC time.</summary>
    public static bool TryFromIso(string? value, out DateTimeOffset time)
    {
        if (value is not null && DateTimeOffset.TryParseExact(value.Trim(), IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
        {
            return true;
        }

        time = default;
        return false;
    }
}
