using System.Globalization;
using System.Text.Json;
using YamlDotNet.Serialization;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>One InfluxQL query of a dashboard panel.</summary>
internal sealed record PanelQuery(int PanelId, string PanelTitle, string PanelType, string RefId, string Query, bool RawQuery, string? DatasourceUid, string ResultFormat)
{
    public override string ToString() => $"panel {PanelId} '{PanelTitle}' {RefId}";
}

/// <summary>A dashboard template variable.</summary>
internal sealed record Variable(string Name, string Type, string Query, bool Multi, bool IncludeAll, string? AllValue, string? DatasourceUid);

/// <summary>A Grafana-managed alert rule, reduced to what decides whether it fires.</summary>
internal sealed record AlertRule(
    string Uid,
    string Title,
    string Condition,
    string Query,
    string DatasourceUid,
    TimeSpan RangeFrom,
    TimeSpan RangeTo,
    string Reducer,
    string ThresholdType,
    IReadOnlyList<double> ThresholdParams,
    string For,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations)
{
    /// <summary>Grafana's threshold expression applied to one reduced value.</summary>
    public bool Fires(double value) => ThresholdType switch
    {
        "lt" => value < ThresholdParams[0],
        "gt" => value > ThresholdParams[0],
        "within_range" => value > ThresholdParams[0] && value < ThresholdParams[1],
        "outside_range" => value < ThresholdParams[0] || value > ThresholdParams[1],
        _ => throw new NotSupportedException($"threshold type '{ThresholdType}' of rule {Uid}"),
    };

    public override string ToString() => $"alert rule {Uid}";
}

/// <summary>The repository's Grafana files: the dashboard JSON and the provisioning YAML, parsed as Grafana reads them.</summary>
internal static class GrafanaFiles
{
    public const string DatasourceUid = "printfarm-influxdb";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string DashboardPath => Path.Combine(RepoRoot, "grafana", "dashboards", "printfarm-overview.json");

    public static string AlertRulesPath => Path.Combine(RepoRoot, "grafana", "provisioning", "alerting", "printfarm-alerts.yaml");

    public static string DatasourcePath => Path.Combine(RepoRoot, "grafana", "provisioning", "datasources", "influxdb.yaml");

    public static string DashboardProviderPath => Path.Combine(RepoRoot, "grafana", "provisioning", "dashboards", "printfarm.yaml");

    public static JsonDocument Dashboard() => JsonDocument.Parse(File.ReadAllText(DashboardPath));

    /// <summary>Every query target of every panel, rows' nested panels included.</summary>
    public static IReadOnlyList<PanelQuery> PanelQueries()
    {
        using var doc = Dashboard();
        var queries = new List<PanelQuery>();
        Collect(doc.RootElement.GetProperty("panels"), queries);
        return queries;

        static void Collect(JsonElement panels, List<PanelQuery> into)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                if (panel.TryGetProperty("panels", out var nested))
                {
                    Collect(nested, into);
                }

                if (!panel.TryGetProperty("targets", out var targets))
                {
                    continue;
                }

                var id = panel.GetProperty("id").GetInt32();
                var title = panel.GetProperty("title").GetString()!;
                var type = panel.GetProperty("type").GetString()!;
                var panelDatasource = DatasourceUidOf(panel);
                foreach (var target in targets.EnumerateArray())
                {
                    into.Add(new PanelQuery(
                        id,
                        title,
                        type,
                        target.GetProperty("refId").GetString()!,
                        target.TryGetProperty("query", out var q) ? q.GetString() ?? string.Empty : string.Empty,
                        target.TryGetProperty("rawQuery", out var raw) && raw.ValueKind == JsonValueKind.True,
                        DatasourceUidOf(target) ?? panelDatasource,
                        target.TryGetProperty("resultFormat", out var format) ? format.GetString()! : "time_series"));
                }
            }
        }
    }

    public static IReadOnlyList<Variable> Variables()
    {
        using var doc = Dashboard();
        return doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Select(v =>
            {
                var query = v.GetProperty("query");
                // Newer Grafana versions store an InfluxDB variable query as { "query": "SHOW ..." }.
                var text = query.ValueKind == JsonValueKind.Object ? query.GetProperty("query").GetString()! : query.GetString()!;
                return new Variable(
                    v.GetProperty("name").GetString()!,
                    v.GetProperty("type").GetString()!,
                    text,
                    v.TryGetProperty("multi", out var multi) && multi.ValueKind == JsonValueKind.True,
                    v.TryGetProperty("includeAll", out var all) && all.ValueKind == JsonValueKind.True,
                    v.TryGetProperty("allValue", out var allValue) && allValue.ValueKind == JsonValueKind.String ? allValue.GetString() : null,
                    DatasourceUidOf(v));
            })
            .ToList();
    }

    public static IReadOnlyList<AlertRule> AlertRules()
    {
        var root = Yaml(AlertRulesPath);
        var rules = new List<AlertRule>();
        foreach (var group in Seq(root["groups"]).Select(Map))
        {
            foreach (var rule in Seq(group["rules"]).Select(Map))
            {
                var uid = Str(rule["uid"]);
                var data = Seq(rule["data"]).Select(Map).ToDictionary(d => Str(d["refId"]), StringComparer.Ordinal);
                var queries = data.Values.Where(d => Str(d["datasourceUid"]) != "__expr__").ToList();
                Assert.True(queries.Count == 1, $"rule {uid} should have exactly one datasource query");
                var query = queries[0];
                var range = Map(query["relativeTimeRange"]);
                var model = Map(query["model"]);
                Assert.True(model.TryGetValue("rawQuery", out var raw) && Str(raw) == "true", $"rule {uid}: the query must be raw InfluxQL");

                var condition = Map(data[Str(rule["condition"])]["model"]);
                Assert.Equal("threshold", Str(condition["type"]));
                var evaluator = Map(Map(Seq(condition["conditions"]).Single())["evaluator"]);
                var reduce = Map(data[Str(condition["expression"])]["model"]);
                Assert.Equal("reduce", Str(reduce["type"]));
                Assert.Equal(Str(query["refId"]), Str(reduce["expression"]));

                rules.Add(new AlertRule(
                    uid,
                    Str(rule["title"]),
                    Str(rule["condition"]),
                    Str(model["query"]),
                    Str(query["datasourceUid"]),
                    TimeSpan.FromSeconds(Number(range["from"])),
                    TimeSpan.FromSeconds(Number(range["to"])),
                    Str(reduce["reducer"]),
                    Str(evaluator["type"]),
                    Seq(evaluator["params"]).Select(Number).ToList(),
                    rule.TryGetValue("for", out var forValue) ? Str(forValue) : string.Empty,
                    StringMap(rule, "labels"),
                    StringMap(rule, "annotations")));
            }
        }

        return rules;
    }

    /// <summary>A provisioning YAML file as nested dictionaries, lists and strings.</summary>
    public static Dictionary<object, object> Yaml(string path) =>
        new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(File.ReadAllText(path));

    public static Dictionary<string, object> Map(object node) =>
        ((Dictionary<object, object>)node).ToDictionary(kv => (string)kv.Key, kv => kv.Value, StringComparer.Ordinal);

    public static List<object> Seq(object node) => (List<object>)node;

    public static string Str(object node) => (string)node;

    private static double Number(object node) => double.Parse(Str(node), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static Dictionary<string, string> StringMap(Dictionary<string, object> parent, string key) =>
        parent.TryGetValue(key, out var node) ? Map(node).ToDictionary(kv => kv.Key, kv => Str(kv.Value), StringComparer.Ordinal) : [];

    private static string? DatasourceUidOf(JsonElement element) =>
        element.TryGetProperty("datasource", out var ds) && ds.ValueKind == JsonValueKind.Object && ds.TryGetProperty("uid", out var uid)
            ? uid.GetString()
            : null;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrintFarm.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no PrintFarm.sln above {AppContext.BaseDirectory}");
    }
}
