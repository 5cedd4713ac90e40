using System.Buffers;
using System.Globalization;
using System.Text;

namespace PrintFarm.Core.LineProtocol;

/// <summary>
/// Builds InfluxDB line-protocol lines (<c>measurement,tag=v field=1.5,n=3i,s="x" 1717000000000</c>), escaping as the
/// protocol requires and formatting numbers with the invariant culture. Timestamps are written in milliseconds
/// (<see cref="Precision"/>), the coarsest precision every event source needs. One builder is reused line after line;
/// it is not thread-safe.
/// </summary>
/// <remarks>
/// Rules (InfluxDB line-protocol reference): measurement escapes comma and space; tag keys, tag values and field keys
/// escape comma, <c>=</c> and space; string field values escape <c>"</c> and <c>\</c>. No element may contain a line
/// break, names may not start with <c>_</c>, a tag value may not end in <c>\</c> (it would escape the separator),
/// empty tags are left out (the protocol has no empty tag) and non-finite floats are left out (it has no NaN).
/// </remarks>
public sealed class LineBuilder
{
    /// <summary>The <c>precision</c> query parameter matching the timestamps this builder writes.</summary>
    public const string Precision = "ms";

    private static readonly SearchValues<char> MeasurementEscapes = SearchValues.Create(", ");
    private static readonly SearchValues<char> KeyEscapes = SearchValues.Create(",= ");
    private static readonly SearchValues<char> StringEscapes = SearchValues.Create("\"\\");

    private readonly StringBuilder _sb = new(256);
    private Phase _phase = Phase.Empty;

    private enum Phase
    {
        Empty,
        Tags,
        Fields,
    }

    /// <summary>Starts a new line.</summary>
    /// <exception cref="ArgumentException">The name is empty, starts with <c>_</c> or contains a line break.</exception>
    public LineBuilder Measurement(string name)
    {
        CheckName(name, nameof(name));
        _sb.Clear();
        Append(name, MeasurementEscapes);
        _phase = Phase.Tags;
        return this;
    }

    /// <summary>Adds a tag; a <see langword="null"/> or empty value adds nothing. Tags must come before fields.</summary>
    public LineBuilder Tag(string key, string? value)
    {
        if (_phase != Phase.Tags)
        {
            throw new InvalidOperationException("tags go after the measurement and before the first field");
        }

        if (string.IsNullOrEmpty(value))
        {
            return this;
        }

        CheckName(key, nameof(key));
        CheckNoLineBreak(value, nameof(value));
        if (value[^1] == '\\')
        {
            throw new ArgumentException($"tag '{key}' value ends with a backslash, which would escape the separator", nameof(value));
        }

        _sb.Append(',');
        Append(key, KeyEscapes);
        _sb.Append('=');
        Append(value, KeyEscapes);
        return this;
    }

    /// <summary>Adds a float field; <see langword="null"/>, NaN and infinities add nothing.</summary>
    public LineBuilder Field(string key, double? value)
    {
        if (value is not { } v || !double.IsFinite(v))
        {
            return this;
        }

        StartField(key);
        // "R" round-trips; line protocol accepts the exponent form it may produce (1E+20).
        Span<char> buffer = stackalloc char[32];
        if (!TryFormatShortDecimal(v, buffer, out var written))
        {
            _ = v.TryFormat(buffer, out written, "R", CultureInfo.InvariantCulture);
        }

        _sb.Append(buffer[..written]);
        return this;
    }

    /// <summary>
    /// Adds a float field of <paramref name="ticks"/> (100 ns) in seconds: the text <see cref="Field(string, double?)"/>
    /// writes for <c>TimeSpan.FromTicks(ticks).TotalSeconds</c>, made from the integer without trying decimals.
    /// </summary>
    /// <remarks>
    /// The seconds of a tick count have at most seven decimals, and below 10^8 s two such texts never read back as one
    /// double (their spacing is 10^-7, a double's under 1.5 × 10^-8): the exact decimal, trailing zeros cut, is the
    /// shortest text that round-trips, which is what "R" and <see cref="TryFormatShortDecimal"/> write. Below 10^-4 s
    /// (1,000 ticks) "R" writes the exponent form, and negative counts are no duration: both go the float way.
    /// </remarks>
    internal LineBuilder FieldSeconds(string key, long ticks)
    {
        const long TicksPerSecond = TimeSpan.TicksPerSecond;
        if (ticks < 0 || ticks is > 0 and < 1000 || ticks >= 100_000_000 * TicksPerSecond)
        {
            return Field(key, TimeSpan.FromTicks(ticks).TotalSeconds);
        }

        StartField(key);
        var fraction = ticks % TicksPerSecond;
        var decimals = 7;
        while (fraction != 0 && fraction % 10 == 0)
        {
            fraction /= 10;
            decimals--;
        }

        Span<char> buffer = stackalloc char[24];
        _sb.Append(buffer[..WriteDecimal(ticks / TicksPerSecond, fraction, fraction == 0 ? 0 : decimals, buffer)]);
        return this;
    }

    // Writes whole.fraction with exactly `decimals` digits after the point (none and no point for 0); returns the length.
    private static int WriteDecimal(long whole, long fraction, int decimals, Span<char> destination)
    {
        _ = whole.TryFormat(destination, out var at, default, CultureInfo.InvariantCulture);
        if (decimals > 0)
        {
            destination[at++] = '.';
            for (var d = decimals - 1; d >= 0; d--)
            {
                destination[at + d] = (char)('0' + (fraction % 10));
                fraction /= 10;
            }

            at += decimals;
        }

        return at;
    }

    /// <summary>
    /// Formats what sensors and slicers send — values with at most three decimals below 10^11 (210.3, 60, 45.25) — and
    /// durations counted in ticks (seconds with at most seven decimals below 10^8, such as 1523.7142857) the way "R"
    /// does (the shortest text that reads back as the same double), without its general algorithm, which was a sixth of
    /// the cost of a telemetry line. False for anything else (the caller uses "R").
    /// </summary>
    /// <remarks>
    /// With n = v × 10^d rounded, the text of n with d decimals reads back as the double nearest to n / 10^d, which is
    /// exactly the IEEE quotient n / 10^d (both are integers below 2^53, so the division is correctly rounded); when that
    /// equals v the text round-trips. Trying d = 0, 1, … in order gives the fewest decimals, and a double's spacing is
    /// under 10^-5 below 10^11 and under 10^-8 below 10^8, so at most one text with d decimals reads back as v: it is the
    /// one "R" writes. Below 10^-4 "R" switches to the exponent form (1E-05), so those are left to it.
    /// </remarks>
    internal static bool TryFormatShortDecimal(double value, Span<char> destination, out int written)
    {
        written = 0;
        var magnitude = Math.Abs(value);
        if (!(magnitude < 1e11) || (value == 0 && double.IsNegative(value)) || (magnitude < 1e-4 && value != 0))
        {
            return false;
        }

        var maxDecimals = magnitude < 1e8 ? 7 : 3;
        long scale = 1;
        for (var decimals = 0; decimals <= maxDecimals; decimals++, scale *= 10)
        {
            var rounded = Math.Round(value * scale);
            if (rounded / scale != value)
            {
                continue;
            }

            var n = (long)rounded;
            var at = 0;
            if (n < 0)
            {
                destination[at++] = '-';
                n = -n;
            }

            written = at + WriteDecimal(n / scale, n % scale, decimals, destination[at..]);
            return true;
        }

        return false;
    }

    /// <summary>Adds a signed integer field (suffix <c>i</c>); <see langword="null"/> adds nothing.</summary>
    public LineBuilder Field(string key, long? value)
    {
        if (value is not { } v)
        {
            return this;
        }

        StartField(key);
        AppendInteger(v);
        _sb.Append('i');
        return this;
    }

    /// <summary>Adds a boolean field; <see langword="null"/> adds nothing.</summary>
    public LineBuilder Field(string key, bool? value)
    {
        if (value is not { } v)
        {
            return this;
        }

        StartField(key);
        _sb.Append(v ? "true" : "false");
        return this;
    }

    /// <summary>Adds a string field; <see langword="null"/> adds nothing, an empty string is written as <c>""</c>.</summary>
    public LineBuilder Field(string key, string? value)
    {
        if (value is null)
        {
            return this;
        }

        CheckNoLineBreak(value, nameof(value));
        StartField(key);
        _sb.Append('"');
        Append(value, StringEscapes);
        _sb.Append('"');
        return this;
    }

    /// <summary>Ends the line with <paramref name="timestamp"/> (milliseconds) and returns it, without a line break.</summary>
    /// <exception cref="InvalidOperationException">No field was added: a line needs at least one.</exception>
    public string Build(DateTimeOffset timestamp)
    {
        if (_phase != Phase.Fields)
        {
            throw new InvalidOperationException("a line needs a measurement and at least one field");
        }

        _sb.Append(' ');
        AppendInteger(timestamp.ToUnixTimeMilliseconds());
        _phase = Phase.Empty;
        return _sb.ToString();
    }

    private void StartField(string key)
    {
        CheckName(key, nameof(key));
        switch (_phase)
        {
            case Phase.Tags:
                _sb.Append(' ');
                _phase = Phase.Fields;
                break;
            case Phase.Fields:
                _sb.Append(',');
                break;
            default:
                throw new InvalidOperationException("fields go after the measurement");
        }

        Append(key, KeyEscapes);
        _sb.Append('=');
    }

    private void Append(string value, SearchValues<char> escapes)
    {
        var rest = value.AsSpan();
        while (true)
        {
            var i = rest.IndexOfAny(escapes);
            if (i < 0)
            {
                _sb.Append(rest);
                return;
            }

            _sb.Append(rest[..i]).Append('\\').Append(rest[i]);
            rest = rest[(i + 1)..];
        }
    }

    private void AppendInteger(long value)
    {
        Span<char> buffer = stackalloc char[20];
        _ = value.TryFormat(buffer, out var written, default, CultureInfo.InvariantCulture);
        _sb.Append(buffer[..written]);
    }

    private static void CheckName(string name, string paramName)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("names must not be empty", paramName);
        }

        if (name[0] == '_')
        {
            throw new ArgumentException($"'{name}': names must not begin with '_' (reserved by InfluxDB)", paramName);
        }

        CheckNoLineBreak(name, paramName);
        if (name[^1] == '\\')
        {
            throw new ArgumentException($"'{name}': names must not end with a backslash", paramName);
        }
    }

    private static void CheckNoLineBreak(string value, string paramName)
    {
        if (value.AsSpan().IndexOfAny('\n', '\r') >= 0)
        {
            throw new ArgumentException("line protocol does not allow line breaks in any element", paramName);
        }
    }
}
