using System.Globalization;

namespace PrintFarm.Core.Ingestion;

/// <summary>Event-time conversions shared by the adapters.</summary>
public static class EventTime
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

    /// <summary>An ISO-8601 date-time (with offset or <c>Z</c>; without one it is taken as UTC) to a UTC time.</summary>
    public static bool TryFromIso(string? value, out DateTimeOffset time)
    {
        if (value is not null && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
        {
            return true;
        }

        time = default;
        return false;
    }
}
