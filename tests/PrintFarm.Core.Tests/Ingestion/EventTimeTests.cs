using PrintFarm.Core.Ingestion;

namespace PrintFarm.Core.Tests.Ingestion;

public sealed class EventTimeTests
{
    private static readonly DateTimeOffset Instant = new(2024, 6, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TryFromEpoch_Seconds_AreReadAsSeconds()
    {
        var seconds = Instant.ToUnixTimeSeconds();

        Assert.True(EventTime.TryFromEpoch(seconds, out var time));
        Assert.Equal(Instant, time);
        Assert.Equal(TimeSpan.Zero, time.Offset);
    }

    [Fact]
    public void TryFromEpoch_Milliseconds_AreReadAsMilliseconds()
    {
        var ms = Instant.ToUnixTimeMilliseconds() + 250;

        Assert.True(EventTime.TryFromEpoch(ms, out var time));
        Assert.Equal(Instant.AddMilliseconds(250), time);
    }

    [Fact]
    public void TryFromEpoch_FractionalSeconds_KeepTheFraction()
    {
        // .25 and .5 are exact in binary, so the conversion is exact too.
        Assert.True(EventTime.TryFromEpoch(Instant.ToUnixTimeSeconds() + 0.25, out var quarter));
        Assert.True(EventTime.TryFromEpoch(Instant.ToUnixTimeSeconds() + 0.5, out var half));

        Assert.Equal(Instant.AddMilliseconds(250), quarter);
        Assert.Equal(Instant.AddMilliseconds(500), half);
    }

    [Fact]
    public void TryFromEpoch_FractionalSecondsNotExactInBinary_AreWithinOneMillisecond()
    {
        Assert.True(EventTime.TryFromEpoch(Instant.ToUnixTimeSeconds() + 0.123, out var time));

        Assert.InRange((time - Instant.AddMilliseconds(123)).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public void TryFromEpoch_JustBelowThreshold_IsSeconds()
    {
        // 1e11 − 1 seconds is in the year 5138: still read as seconds.
        const double value = 1e11 - 1;

        Assert.True(EventTime.TryFromEpoch(value, out var time));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddSeconds(value), time);
    }

    [Fact]
    public void TryFromEpoch_AtThreshold_IsMilliseconds()
    {
        // 1e11 ms is March 1973.
        const double value = 1e11;

        Assert.True(EventTime.TryFromEpoch(value, out var time));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddMilliseconds(value), time);
    }

    [Fact]
    public void TryFromEpoch_Zero_IsTheUnixEpoch()
    {
        Assert.True(EventTime.TryFromEpoch(0, out var time));
        Assert.Equal(DateTimeOffset.UnixEpoch, time);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(1e300)]
    [InlineData(3e14)]
    public void TryFromEpoch_InvalidValue_IsRejected(double value)
    {
        Assert.False(EventTime.TryFromEpoch(value, out var time));
        Assert.Equal(default, time);
    }

    [Theory]
    [InlineData("2024-06-01T08:00:00Z")]
    [InlineData("2024-06-01T08:00:00.000Z")]
    [InlineData("2024-06-01T10:00:00+02:00")]
    [InlineData("2024-06-01T03:00:00-05:00")]
    [InlineData("2024-06-01T08:00:00")]
    [InlineData("2024-06-01T08:00:00.0000000+00:00")]
    public void TryFromIso_VariousOffsets_GiveTheSameUtcInstant(string text)
    {
        Assert.True(EventTime.TryFromIso(text, out var time));

        Assert.Equal(Instant, time);
        Assert.Equal(TimeSpan.Zero, time.Offset);
    }

    [Fact]
    public void TryFromIso_FractionalSeconds_AreKept()
    {
        Assert.True(EventTime.TryFromIso("2024-06-01T08:00:00.250+02:00", out var time));

        Assert.Equal(Instant.AddHours(-2).AddMilliseconds(250), time);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not a date")]
    [InlineData("2024-13-01T00:00:00Z")]
    [InlineData("2024-06-31T00:00:00Z")]
    [InlineData("2024-06-01T25:00:00Z")]
    [InlineData("1717228800")]
    public void TryFromIso_InvalidValue_IsRejected(string? text)
    {
        Assert.False(EventTime.TryFromIso(text, out var time));
        Assert.Equal(default, time);
    }

    [Theory]
    [InlineData("08:00")]
    [InlineData("6/1/2024")]
    public void TryFromIso_NonIsoDateTime_IsRejected(string text)
    {
        Assert.False(EventTime.TryFromIso(text, out _));
    }
}
