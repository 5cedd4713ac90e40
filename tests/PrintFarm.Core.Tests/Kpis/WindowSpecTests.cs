using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class WindowSpecTests
{
    [Theory]
    [InlineData("30s", "30s", 30)]
    [InlineData("15m", "15m", 15 * 60)]
    [InlineData("45m", "45m", 45 * 60)]
    [InlineData("1h", "1h", 3600)]
    [InlineData("6h", "6h", 6 * 3600)]
    [InlineData("1d", "1d", 86400)]
    [InlineData("7d", "7d", 7 * 86400)]
    [InlineData("48h", "48h", 48 * 3600)]
    [InlineData(" 1H ", "1h", 3600)]
    [InlineData("3650d", "3650d", 3650L * 86400)]
    public void Parse_ValidSize_GivesNameAndSize(string text, string name, long seconds)
    {
        var spec = WindowSpec.Parse(text);

        Assert.Equal(name, spec.Name);
        Assert.Equal(name, spec.ToString());
        Assert.Equal(TimeSpan.FromSeconds(seconds), spec.Size);
        Assert.True(WindowSpec.TryParse(text, out var parsed));
        Assert.Equal(spec, parsed);
    }

    [Theory]
    [InlineData("7m")] // 1440 min ÷ 7 is not whole: windows would drift across midnight
    [InlineData("7s")]
    [InlineData("25h")] // longer than a day but not whole days
    [InlineData("0h")]
    [InlineData("0s")]
    [InlineData("1w")]
    [InlineData("1y")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("h")]
    [InlineData("1")]
    [InlineData("-1h")]
    [InlineData("+1h")]
    [InlineData("1.5h")]
    [InlineData("1 h")]
    [InlineData("3651d")]
    [InlineData("99999999999999999999d")]
    public void TryParse_InvalidSize_IsRejected(string? text)
    {
        Assert.False(WindowSpec.TryParse(text, out var spec));
        Assert.Null(spec);
    }

    [Theory]
    [InlineData("7m")]
    [InlineData("0h")]
    [InlineData("1w")]
    [InlineData("")]
    public void Parse_InvalidSize_ThrowsFormatExceptionNamingTheGrammar(string text)
    {
        var ex = Assert.Throws<FormatException>(() => WindowSpec.Parse(text));

        Assert.Contains(WindowSpec.Grammar, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equality_SameText_AreEqual()
    {
        Assert.Equal(WindowSpec.Parse("1h"), WindowSpec.Parse("1H"));
        Assert.NotEqual(WindowSpec.Parse("1h"), WindowSpec.Parse("1d"));
    }

    [Theory]
    [InlineData("1h", "2024-06-01T10:37:12Z", "2024-06-01T10:00:00Z")]
    [InlineData("15m", "2024-06-01T10:37:12Z", "2024-06-01T10:30:00Z")]
    [InlineData("30s", "2024-06-01T10:37:12.500Z", "2024-06-01T10:37:00Z")]
    [InlineData("6h", "2024-06-01T17:59:59Z", "2024-06-01T12:00:00Z")]
    [InlineData("1d", "2024-06-01T23:59:59.999Z", "2024-06-01T00:00:00Z")]
    [InlineData("1h", "2024-06-01T10:00:00Z", "2024-06-01T10:00:00Z")]
    [InlineData("1d", "2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z")]
    // An offset time belongs to the UTC window: 01:30+02:00 is 23:30 UTC the day before.
    [InlineData("1d", "2024-06-01T01:30:00+02:00", "2024-05-31T00:00:00Z")]
    [InlineData("1h", "2024-06-01T01:30:00+05:30", "2024-05-31T20:00:00Z")]
    public void StartOf_Time_IsTheUtcAlignedWindowStart(string window, string time, string start)
    {
        var spec = WindowSpec.Parse(window);
        var t = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

        var s = spec.StartOf(t);

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), s);
        Assert.Equal(TimeSpan.Zero, s.Offset);
    }

    [Theory]
    [InlineData("30s")]
    [InlineData("15m")]
    [InlineData("1h")]
    [InlineData("1d")]
    [InlineData("7d")]
    public void StartOf_AnyTime_ContainsTheTimeAndIsAlignedToUtcMidnights(string window)
    {
        var spec = WindowSpec.Parse(window);
        var random = new Random(42);
        for (var i = 0; i < 1000; i++)
        {
            var t = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks((long)(random.NextDouble() * TimeSpan.FromDays(3000).Ticks));

            var start = spec.StartOf(t);

            Assert.InRange(t, start, start + spec.Size - TimeSpan.FromTicks(1));
            if (spec.Size <= TimeSpan.FromDays(1))
            {
                // Sizes that tile a day: a whole number of windows fits between UTC midnight and the start.
                Assert.Equal(0, start.TimeOfDay.Ticks % spec.Size.Ticks);
            }
            else
            {
                Assert.Equal(TimeSpan.Zero, start.TimeOfDay);
            }
        }
    }

    // ---- Whole days in the farm's time zone ---------------------------------------------------------------------

    private static TimeZoneInfo Berlin => TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Theory]
    // Summer (CEST, UTC+2): local midnight is 22:00 UTC the day before.
    [InlineData("2024-06-01T12:00:00Z", "2024-05-31T22:00:00Z")]
    [InlineData("2024-06-01T21:59:59.999Z", "2024-05-31T22:00:00Z")]
    [InlineData("2024-06-01T22:00:00Z", "2024-06-01T22:00:00Z")]
    // Winter (CET, UTC+1): local midnight is 23:00 UTC the day before.
    [InlineData("2026-01-15T12:00:00Z", "2026-01-14T23:00:00Z")]
    [InlineData("2026-01-15T22:59:59Z", "2026-01-14T23:00:00Z")]
    [InlineData("2026-01-15T23:00:00Z", "2026-01-15T23:00:00Z")]
    // The DST days start at the offset of their midnight: the spring day in CET, the autumn day in CEST.
    [InlineData("2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z")]
    [InlineData("2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z")]
    public void StartOf_DayInAFarmTimeZone_IsLocalMidnight(string time, string start)
    {
        var spec = WindowSpec.Parse("1d", Berlin);
        var t = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

        var s = spec.StartOf(t);

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), s);
        Assert.Equal(TimeSpan.Zero, s.Offset);
        Assert.Equal(TimeSpan.Zero, TimeZoneInfo.ConvertTime(s, Berlin).TimeOfDay);
    }

    [Theory]
    // Spring 2026-03-29: 02:00 CET → 03:00 CEST; the day runs 03-28 23:00 UTC – 03-29 22:00 UTC.
    [InlineData("2026-03-29T12:00:00Z", "2026-03-29T22:00:00Z", 23)]
    // Autumn 2026-10-25: 03:00 CEST → 02:00 CET; the day runs 10-24 22:00 UTC – 10-25 23:00 UTC.
    [InlineData("2026-10-25T12:00:00Z", "2026-10-25T23:00:00Z", 25)]
    [InlineData("2026-03-28T12:00:00Z", "2026-03-28T23:00:00Z", 24)]
    [InlineData("2026-06-01T12:00:00Z", "2026-06-01T22:00:00Z", 24)]
    public void EndOf_DayInAFarmTimeZone_IsTheNextLocalMidnightSoTheDSTDaysLast23And25Hours(string time, string end, int hours)
    {
        var spec = WindowSpec.Parse("1d", Berlin);
        var start = spec.StartOf(DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture));

        var e = spec.EndOf(start);

        Assert.Equal(DateTimeOffset.Parse(end, System.Globalization.CultureInfo.InvariantCulture), e);
        Assert.Equal(TimeSpan.FromHours(hours), e - start);
        Assert.Equal(e, spec.StartOf(e)); // the next day starts where this one ends: days tile
        Assert.Equal(TimeSpan.FromDays(1), spec.Size); // the nominal size does not change
    }

    [Fact]
    public void Parse_DayWithAFarmTimeZone_KeepsTheZoneAndName()
    {
        var spec = WindowSpec.Parse("1d", Berlin);

        Assert.Equal("1d", spec.Name);
        Assert.Equal(Berlin.Id, spec.TimeZone?.Id);
        Assert.Null(WindowSpec.Parse("1d").TimeZone);
        Assert.Null(WindowSpec.Parse("1d", TimeZoneInfo.Utc).TimeZone);
    }

    [Theory]
    [InlineData("1h", "2026-03-29T01:30:00Z", "2026-03-29T01:00:00Z")] // across the spring change
    [InlineData("1h", "2026-10-25T00:45:00Z", "2026-10-25T00:00:00Z")] // in the autumn's repeated local hour
    [InlineData("6h", "2024-06-01T23:30:00Z", "2024-06-01T18:00:00Z")] // UTC quarter-days, not local ones
    [InlineData("15m", "2024-06-01T22:07:00Z", "2024-06-01T22:00:00Z")]
    public void StartOf_SubDayWindowWithAFarmTimeZone_IgnoresTheZone(string window, string time, string start)
    {
        var spec = WindowSpec.Parse(window, Berlin);
        var t = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Null(spec.TimeZone);
        Assert.Equal(WindowSpec.Parse(window), spec);
        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), spec.StartOf(t));
        Assert.Equal(spec.StartOf(t) + spec.Size, spec.EndOf(spec.StartOf(t)));
    }
}
