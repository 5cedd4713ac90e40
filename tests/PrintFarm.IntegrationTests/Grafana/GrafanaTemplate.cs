using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// What Grafana does to an InfluxQL query before sending it: macros (<c>$timeFilter</c>, <c>$__interval</c>) and
/// dashboard variables replaced by their values. A multi-value or All-capable variable is formatted as Grafana formats
/// it for InfluxDB: its All value when All is selected, otherwise the regex-escaped values as <c>(a|b)</c>, so it is
/// only valid inside <c>=~ /^$var$/</c>.
/// </summary>
internal sealed partial class GrafanaTemplate
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public GrafanaTemplate(DateTimeOffset from, DateTimeOffset to, TimeSpan interval)
    {
        From = from;
        To = to;
        var ms = (long)interval.TotalMilliseconds;
        var influxInterval = interval.TotalHours >= 1 && interval.TotalHours == Math.Floor(interval.TotalHours)
            ? $"{interval.TotalHours}h"
            : $"{ms}ms";
        // Grafana's InfluxQL time filter: absolute epoch milliseconds, both ends included.
        _values["timeFilter"] = $"time >= {from.ToUnixTimeMilliseconds()}ms AND time <= {to.ToUnixTimeMilliseconds()}ms";
        _values["__interval"] = influxInterval;
        _values["interval"] = influxInterval;
        _values["__interval_ms"] = ms.ToString(CultureInfo.InvariantCulture);
        // Global variables: the range's ends in epoch milliseconds.
        _values["__from"] = from.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        _values["__to"] = to.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
    }

    public DateTimeOffset From { get; }

    public DateTimeOffset To { get; }

    /// <summary>A single-value variable: its value as is.</summary>
    public GrafanaTemplate With(string name, string value)
    {
        _values[name] = value;
        return this;
    }

    /// <summary>A multi-value variable with these values selected.</summary>
    public GrafanaTemplate WithMulti(string name, params string[] values)
    {
        _values[name] = values.Length == 1 ? EscapeRegex(values[0]) : "(" + string.Join('|', values.Select(EscapeRegex)) + ")";
        return this;
    }

    /// <summary>A multi-value variable with All selected and a custom All value.</summary>
    public GrafanaTemplate WithAll(string name, string allValue)
    {
        _values[name] = allValue;
        return this;
    }

    /// <summary>The query as Grafana would send it; fails on any variable or macro left unresolved.</summary>
    public string Render(string query)
    {
        var rendered = Reference().Replace(query, m => _values.TryGetValue(m.Groups["name"].Value, out var v) ? v : m.Value);
        var left = Reference().Match(rendered);
        if (left.Success)
        {
            throw new InvalidOperationException($"'{left.Value}' is not a variable or macro the test knows, in: {query}");
        }

        return rendered;
    }

    /// <summary>Grafana's regex escaping of variable values for InfluxDB (the <c>/</c> too, as the value sits in <c>/…/</c>).</summary>
    public static string EscapeRegex(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (@"\^$*+?.()|[]{}/".Contains(c, StringComparison.Ordinal))
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    /// <summary>Names of the variables and macros a query refers to.</summary>
    public static IEnumerable<string> References(string query) => Reference().Matches(query).Select(m => m.Groups["name"].Value);

    // $name or ${name}; a $ before / or ' (a regex anchor) is not a reference.
    [GeneratedRegex(@"\$(?:\{(?<name>\w+)\}|(?<name>\w+))")]
    private static partial Regex Reference();
}
