using System.Data;
using System.Globalization;
using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>One alert instance as Grafana's evaluation would see it: its labels and the value the threshold reads.</summary>
internal sealed record RuleInstance(IReadOnlyDictionary<string, string> Labels, double Value, IReadOnlyDictionary<string, double> Reduced)
{
    public string Label(string name) => Labels.TryGetValue(name, out var v) ? v : string.Empty;

    public override string ToString() => string.Join(",", Labels.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")) + " = " + Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// What Grafana's evaluation of a provisioned rule does at an instant, against a real InfluxDB: each query run over
/// its relative time range (macros rendered as Grafana's backend renders them; InfluxDB's <c>now()</c> is the
/// evaluation instant), each series reduced (last non-null value), the reduced values of the same labels joined by
/// the math expression. The caller applies the threshold.
/// </summary>
internal static class RuleEvaluation
{
    public static async Task<IReadOnlyList<RuleInstance>> EvaluateAsync(InfluxDbServer influx, AlertRule rule, string database, DateTimeOffset now)
    {
        var reduced = new Dictionary<string, Dictionary<string, (Dictionary<string, string> Labels, double Value)>>(StringComparer.Ordinal);
        foreach (var query in rule.Queries)
        {
            var template = new GrafanaTemplate(now - query.RangeFrom, now - query.RangeTo, TimeSpan.FromMinutes(1));
            var text = template.Render(query.Query).Replace("now()", now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + "ms", StringComparison.Ordinal);
            var rows = await influx.QueryAsync(database, text);
            var series = new Dictionary<string, (Dictionary<string, string> Labels, double Value)>(StringComparer.Ordinal);
            foreach (var group in rows.GroupBy(Key))
            {
                var last = group.Where(r => ValueOf(r) is not null).OrderBy(r => r.Time()).LastOrDefault();
                if (last is not null)
                {
                    series[group.Key] = (Labels(last), ValueOf(last)!.Value);
                }
            }

            var reduceRef = rule.Reduced.Single(kv => kv.Value == query.RefId).Key;
            reduced[reduceRef] = series;
        }

        if (rule.Math is null)
        {
            return reduced.Single().Value.Values.Select(s => new RuleInstance(s.Labels, s.Value, new Dictionary<string, double>())).ToList();
        }

        // Grafana joins series of the math's operands on equal labels; an instance needs every operand.
        var keys = reduced.Values.Select(s => s.Keys.ToHashSet(StringComparer.Ordinal)).Aggregate((a, b) => { a.IntersectWith(b); return a; });
        var instances = new List<RuleInstance>();
        foreach (var key in keys.Order(StringComparer.Ordinal))
        {
            var values = reduced.ToDictionary(kv => kv.Key, kv => kv.Value[key].Value, StringComparer.Ordinal);
            instances.Add(new RuleInstance(reduced.First().Value[key].Labels, Compute(rule.Math, values), values));
        }

        return instances;
    }

    /// <summary>Grafana's math expression over reduced values: arithmetic, comparisons (1/0) and &amp;&amp;.</summary>
    public static double Compute(string expression, IReadOnlyDictionary<string, double> values)
    {
        var text = expression;
        foreach (var (name, value) in values.OrderByDescending(kv => kv.Key.Length))
        {
            text = text.Replace("$" + name, "(" + value.ToString("R", CultureInfo.InvariantCulture) + ")", StringComparison.Ordinal);
        }

        text = text.Replace("&&", " AND ", StringComparison.Ordinal).Replace("==", "=", StringComparison.Ordinal);
        using var table = new DataTable { Locale = CultureInfo.InvariantCulture };
        var result = table.Compute(text, null);
        return result is bool b ? (b ? 1 : 0) : Convert.ToDouble(result, CultureInfo.InvariantCulture);
    }

    private static double? ValueOf(Dictionary<string, JsonElement> row)
    {
        var value = row.Where(kv => kv.Key != "time" && kv.Value.ValueKind is JsonValueKind.Number or JsonValueKind.Null).ToList();
        Assert.True(value.Count == 1, "an alert query should return one value column: " + string.Join(", ", row.Keys));
        return value[0].Value.ValueKind == JsonValueKind.Number ? value[0].Value.GetDouble() : null;
    }

    private static Dictionary<string, string> Labels(Dictionary<string, JsonElement> row) =>
        row.Where(kv => kv.Value.ValueKind == JsonValueKind.String).ToDictionary(kv => kv.Key, kv => kv.Value.GetString()!, StringComparer.Ordinal);

    private static string Key(Dictionary<string, JsonElement> row) =>
        string.Join("|", Labels(row).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value));
}
