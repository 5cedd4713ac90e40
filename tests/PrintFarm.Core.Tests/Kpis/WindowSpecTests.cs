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
}
