using System.Globalization;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.Core.Tests.LineProtocol;

public sealed class LineBuilderTests
{
    private static readonly DateTimeOffset Ts = DateTimeOffset.FromUnixTimeMilliseconds(1_717_000_000_123);

    private readonly LineBuilder _line = new();

    [Fact]
    public void Build_SimpleLine_WritesMeasurementTagsFieldsAndMillisecondTimestamp()
    {
        var line = _line.Measurement("m").Tag("a", "1").Tag("b", "2").Field("x", 1.5).Field("n", 3L).Build(Ts);

        Assert.Equal($"m,a=1,b=2 x=1.5,n=3i {Ts.ToUnixTimeMilliseconds()}", line);
    }

    [Fact]
    public void Build_Timestamp_IsUnixMilliseconds()
    {
        var ts = new DateTimeOffset(2024, 6, 1, 10, 0, 0, 250, TimeSpan.FromHours(2));

        var line = _line.Measurement("m").Field("x", 1L).Build(ts);

        // 2024-06-01T08:00:00.250Z: milliseconds since the Unix epoch, whatever the offset.
        var expected = (long)(ts.UtcDateTime - DateTime.UnixEpoch).TotalMilliseconds;
        Assert.EndsWith($" {expected}", line, StringComparison.Ordinal);
        Assert.EndsWith("250", line, StringComparison.Ordinal);
        Assert.Equal("ms", LineBuilder.Precision);
    }

    [Fact]
    public void Measurement_CommaAndSpace_AreEscaped()
    {
        var line = _line.Measurement("my measure,ment").Field("x", 1L).Build(Ts);

        Assert.StartsWith(@"my\ measure\,ment x=1i ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Measurement_EqualsSign_IsNotEscaped()
    {
        var line = _line.Measurement("a=b").Field("x", 1L).Build(Ts);

        Assert.StartsWith("a=b x=1i ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a,b", @"a\,b")]
    [InlineData("a=b", @"a\=b")]
    [InlineData("a b", @"a\ b")]
    [InlineData(@"a""b", @"a""b")]
    public void Tag_KeyWithSpecialCharacter_IsEscaped(string key, string escaped)
    {
        var line = _line.Measurement("m").Tag(key, "v").Field("x", 1L).Build(Ts);

        Assert.StartsWith($"m,{escaped}=v x=1i ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a,b", @"a\,b")]
    [InlineData("a=b", @"a\=b")]
    [InlineData("a b", @"a\ b")]
    [InlineData(" ", @"\ ")]
    [InlineData(@"a""b", @"a""b")]
    [InlineData(@"a\b", @"a\b")]
    public void Tag_ValueWithSpecialCharacter_IsEscaped(string value, string escaped)
    {
        var line = _line.Measurement("m").Tag("t", value).Field("x", 1L).Build(Ts);

        Assert.StartsWith($"m,t={escaped} x=1i ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a,b", @"a\,b")]
    [InlineData("a=b", @"a\=b")]
    [InlineData("a b", @"a\ b")]
    public void Field_KeyWithSpecialCharacter_IsEscaped(string key, string escaped)
    {
        var line = _line.Measurement("m").Field(key, 1L).Build(Ts);

        Assert.StartsWith($"m {escaped}=1i ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(@"say ""hi""", @"""say \""hi\""""")]
    [InlineData(@"C:\temp\", @"""C:\\temp\\""")]
    [InlineData("a,b=c d", @"""a,b=c d""")]
    [InlineData("", @"""""")]
    public void Field_StringValue_EscapesQuoteAndBackslashOnly(string value, string written)
    {
        var line = _line.Measurement("m").Field("s", value).Build(Ts);

        Assert.Equal($"m s={written} {Ts.ToUnixTimeMilliseconds()}", line);
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    [InlineData("a\r\n")]
    public void Measurement_WithLineBreak_IsRejected(string name)
    {
        Assert.Throws<ArgumentException>(() => _line.Measurement(name));
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    public void Tag_KeyWithLineBreak_IsRejected(string key)
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Tag(key, "v"));
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    public void Tag_ValueWithLineBreak_IsRejected(string value)
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Tag("t", value));
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    public void Field_KeyWithLineBreak_IsRejected(string key)
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Field(key, 1.0));
        Assert.Throws<ArgumentException>(() => _line.Field(key, 1L));
        Assert.Throws<ArgumentException>(() => _line.Field(key, true));
        Assert.Throws<ArgumentException>(() => _line.Field(key, "v"));
    }

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    public void Field_StringValueWithLineBreak_IsRejected(string value)
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Field("s", value));
    }

    [Fact]
    public void Measurement_StartingWithUnderscore_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => _line.Measurement("_m"));
    }

    [Fact]
    public void Tag_KeyStartingWithUnderscore_IsRejected()
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Tag("_t", "v"));
    }

    [Fact]
    public void Field_KeyStartingWithUnderscore_IsRejected()
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Field("_f", 1L));
    }

    [Fact]
    public void Measurement_Empty_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => _line.Measurement(""));
    }

    [Theory]
    [InlineData(@"v\")]
    [InlineData(@"\")]
    [InlineData(@"a\\")]
    public void Tag_ValueEndingWithBackslash_IsRejected(string value)
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Tag("t", value));
    }

    [Fact]
    public void Tag_KeyEndingWithBackslash_IsRejected()
    {
        _line.Measurement("m");

        Assert.Throws<ArgumentException>(() => _line.Tag(@"t\", "v"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Tag_NullOrEmptyValue_IsOmitted(string? value)
    {
        var line = _line.Measurement("m").Tag("a", "1").Tag("empty", value).Tag("b", "2").Field("x", 1L).Build(Ts);

        Assert.StartsWith("m,a=1,b=2 x=1i ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("empty", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0L, "0i")]
    [InlineData(42L, "42i")]
    [InlineData(-7L, "-7i")]
    [InlineData(long.MaxValue, "9223372036854775807i")]
    public void Field_Integer_HasISuffix(long value, string written)
    {
        var line = _line.Measurement("m").Field("n", value).Build(Ts);

        Assert.StartsWith($"m n={written} ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(-0.25)]
    [InlineData(1234567.875)]
    [InlineData(0.1)]
    public void Field_Float_IsWrittenRoundTrippableWithoutSuffix(double value)
    {
        var line = _line.Measurement("m").Field("x", value).Build(Ts);

        var text = line.Split(' ')[1]["x=".Length..];
        Assert.Equal(value, double.Parse(text, CultureInfo.InvariantCulture));
        Assert.DoesNotContain("i", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Field_Float_UsesInvariantCultureUnderGermanCulture()
    {
        var previous = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            // Sanity: the culture really is one with a decimal comma.
            Assert.Equal(",", CultureInfo.CurrentCulture.NumberFormat.NumberDecimalSeparator);

            var line = _line.Measurement("m").Field("x", 1.5).Field("big", 1234567L).Build(Ts);

            Assert.StartsWith("m x=1.5,big=1234567i ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("1,5", line, StringComparison.Ordinal);
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Field_NonFiniteFloat_IsOmitted(double value)
    {
        var line = _line.Measurement("m").Field("bad", value).Field("ok", 2.5).Build(Ts);

        Assert.StartsWith("m ok=2.5 ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("bad", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Field_Null_IsOmittedForEveryType()
    {
        var line = _line.Measurement("m")
            .Field("d", (double?)null)
            .Field("l", (long?)null)
            .Field("b", (bool?)null)
            .Field("s", (string?)null)
            .Field("ok", 1L)
            .Build(Ts);

        Assert.StartsWith("m ok=1i ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, "true")]
    [InlineData(false, "false")]
    public void Field_Boolean_IsWrittenAsKeyword(bool value, string written)
    {
        var line = _line.Measurement("m").Field("b", value).Build(Ts);

        Assert.StartsWith($"m b={written} ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_WithoutFields_Throws()
    {
        _line.Measurement("m").Tag("t", "v");

        Assert.Throws<InvalidOperationException>(() => _line.Build(Ts));
    }

    [Fact]
    public void Build_WhenOnlyOmittedFieldsWereAdded_Throws()
    {
        _line.Measurement("m").Field("x", double.NaN).Field("y", (string?)null);

        Assert.Throws<InvalidOperationException>(() => _line.Build(Ts));
    }

    [Fact]
    public void Build_WithoutMeasurement_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => _line.Build(Ts));
    }

    [Fact]
    public void Tag_AfterAField_Throws()
    {
        _line.Measurement("m").Field("x", 1L);

        Assert.Throws<InvalidOperationException>(() => _line.Tag("t", "v"));
    }

    [Fact]
    public void Field_BeforeMeasurement_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => _line.Field("x", 1L));
    }

    [Fact]
    public void Measurement_AfterBuild_StartsAFreshLine()
    {
        var first = _line.Measurement("a").Tag("t", "1").Field("x", 1L).Build(Ts);
        var second = _line.Measurement("b").Field("y", 2L).Build(Ts);

        Assert.StartsWith("a,t=1 x=1i ", first, StringComparison.Ordinal);
        Assert.Equal($"b y=2i {Ts.ToUnixTimeMilliseconds()}", second);
    }

    [Fact]
    public void Measurement_AfterARejectedElement_StartsAFreshLine()
    {
        _line.Measurement("a").Tag("t", "1");
        Assert.Throws<ArgumentException>(() => _line.Tag("u", "bad\n"));

        var line = _line.Measurement("b").Field("y", 2L).Build(Ts);

        Assert.Equal($"b y=2i {Ts.ToUnixTimeMilliseconds()}", line);
    }

    [Theory]
    [InlineData(210.3)]
    [InlineData(60)]
    [InlineData(0)]
    [InlineData(-0.0)]
    [InlineData(45.25)]
    [InlineData(-12.125)]
    [InlineData(0.001)]
    [InlineData(0.0001)]
    [InlineData(99.9)]
    [InlineData(0.1 + 0.2)]
    [InlineData(1e14)]
    [InlineData(999999999999999.9)]
    [InlineData(1e15)]
    [InlineData(1e-7)]
    [InlineData(double.Epsilon)]
    [InlineData(double.MaxValue)]
    [InlineData(2.5e-3)]
    [InlineData(123456.789)]
    [InlineData(1523.7142857)]
    [InlineData(0.0001234)]
    [InlineData(0.00001234)]
    [InlineData(99999999.9999999)]
    [InlineData(123456789.1234567)]
    public void Field_Float_IsWrittenAsTheShortestRoundTripText(double value)
    {
        var line = _line.Measurement("m").Field("x", value).Build(Ts);

        Assert.Equal($"m x={value.ToString("R", CultureInfo.InvariantCulture)} {Ts.ToUnixTimeMilliseconds()}", line);
    }

    [Fact]
    public void Field_Float_FastPathAgreesWithRoundTripFormatting_OnManyValues()
    {
        // Decimals as sensors send them, and arbitrary doubles that must fall back to "R".
        var random = new Random(20261203);
        Span<char> buffer = stackalloc char[32];
        var fast = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var value = (i % 6) switch
            {
                0 => random.Next(-400_000, 400_000) / 1000.0,
                1 => random.Next(0, 3_000_000) / 10.0,
                2 => random.NextDouble() * Math.Pow(10, random.Next(-8, 18)),
                // Durations in ticks, as the timeline writes them: up to about three years, and a few short ones.
                3 => TimeSpan.FromTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 1000)).TotalSeconds,
                4 => TimeSpan.FromTicks(random.NextInt64(-TimeSpan.TicksPerSecond * 10, TimeSpan.TicksPerSecond * 10)).TotalSeconds,
                _ => BitConverter.Int64BitsToDouble(random.NextInt64()),
            };
            if (!double.IsFinite(value))
            {
                continue;
            }

            if (LineBuilder.TryFormatShortDecimal(value, buffer, out var written))
            {
                fast++;
                Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), buffer[..written].ToString());
            }
        }

        // Two in three values are short decimals or tick durations: the fast path must have taken them.
        Assert.True(fast >= 130_000, $"fast path taken {fast} times");
    }

    [Fact]
    public void FieldSeconds_WritesWhatAFloatFieldOfTheTicksTotalSecondsWrites()
    {
        // Round seconds, milliseconds, any tick count up to past the 10^8 s edge of the integer path, the exponent form
        // below 10^-4 s, and negatives.
        var random = new Random(20261208);
        var builder = new LineBuilder();
        long[] edges = [0, 1, 9, 10, 999, 1000, TimeSpan.TicksPerSecond, TimeSpan.TicksPerSecond - 1, (100_000_000 * TimeSpan.TicksPerSecond) - 1, 100_000_000 * TimeSpan.TicksPerSecond, -1, -TimeSpan.TicksPerSecond];
        var samples = edges.Concat(Enumerable.Range(0, 100_000).Select(i => (i % 4) switch
        {
            0 => random.NextInt64(0, 86_400) * TimeSpan.TicksPerSecond,
            1 => random.NextInt64(0, 86_400_000) * TimeSpan.TicksPerMillisecond,
            2 => random.NextInt64(0, TimeSpan.TicksPerDay * 1000),
            _ => random.NextInt64(0, TimeSpan.TicksPerDay * 2000),
        }));
        foreach (var ticks in samples)
        {
            var expected = _line.Measurement("m").Field("x", TimeSpan.FromTicks(ticks).TotalSeconds).Build(Ts);
            Assert.Equal(expected, builder.Measurement("m").FieldSeconds("x", ticks).Build(Ts));
        }
    }
}
