using System.Globalization;
using System.Text.Json;
using YamlDotNet.Serialization;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>One InfluxQL query of a dashboard panel.</summary>
internal sealed record PanelQuery(int PanelId, string PanelTitle, string PanelType, string RefId, string Query, bool RawQuery, string? DatasourceUid, string ResultFormat, string? Alias = null)
{
    public override string ToString() => $"panel {PanelId} '{PanelTitle}' {RefId}";
}

/// <summary>A dashboard template variable.</summary>
internal sealed record Variable(string Name, string Type, string Query, bool Multi, bool IncludeAll, string? AllValue, string? DatasourceUid);

/// <summary>A datasource query of an alert rule: its InfluxQL and its time range relative to the evaluation instant.</summary>
internal sealed record RuleQuery(string RefId, string Query, string DatasourceUid, TimeSpan RangeFrom, TimeSpan RangeTo);

/// <summary>
/// A Grafana-managed alert rule, reduced to what decides whether it fires: datasource queries, a reduce expression
/// per query, an optional math expression over the reduced values, and the threshold (with its recovery threshold).
/// </summary>
internal sealed record AlertRule(
    string Uid,
    string Title,
    string Folder,
    string Condition,
    IReadOnlyList<RuleQuery> Queries,
    IReadOnlyDictionary<string, string> Reduced,
    string Reducer,
    string? Math,
    string ThresholdType,
    IReadOnlyList<double> ThresholdParams,
    string? RecoveryType,
    IReadOnlyList<double> RecoveryParams,
    string For,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations)
{
    /// <summary>The first (for most rules the only) query.</summary>
    public string Query => Queries[0].Query;

    public string DatasourceUid => Queries[0].DatasourceUid;

    public TimeSpan RangeFrom => Queries[0].RangeFrom;

    public TimeSpan RangeTo => Queries[0].RangeTo;

    /// <summary>Grafana's threshold expression applied to one reduced value.</summary>
    public bool Fires(double value) => Compare(ThresholdType, ThresholdParams, value);

    /// <summary>The recovery (unload) threshold: a firing instance resolves only once this holds.</summary>
    public bool Recovers(double value) => RecoveryType is null ? !Fires(value) : Compare(RecoveryType, RecoveryParams, value);

    public override string ToString() => $"alert rule {Uid}";

    private bool Compare(string type, IReadOnlyList<double> p, double value) => type switch
    {
        "lt" => value < p[0],
        "gt" => value > p[0],
        "within_range" => value > p[0] && value < p[1],
        "outside_range" => value < p[0] || value > p[1],
        _ => throw new NotSupportedException($"threshold type '{type}' of rule {Uid}"),
    };
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
                        target.TryGetProperty("resultFormat", out var format) ? format.GetString()! : "time_series",
                        target.TryGetProperty("alias", out var alias) ? alias.GetString() : null));
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

    public static string NotificationsPath => Path.Combine(RepoRoot, "grafana", "provisioning", "alerting", "printfarm-notifications.yaml");

    /// <summary>
    /// Every rule of every group. Shapes understood (the only ones the files use): one query reduced and compared, or
    /// queries each reduced, a math expression over the reduced values, and a threshold on the math.
    /// </summary>
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
                var queries = data.Values.Where(d => Str(d["datasourceUid"]) != "__expr__").Select(query =>
                {
                    var range = Map(query["relativeTimeRange"]);
                    var model = Map(query["model"]);
                    Assert.True(model.TryGetValue("rawQuery", out var raw) && Str(raw) == "true", $"rule {uid}: the query must be raw InfluxQL");
                    return new RuleQuery(Str(query["refId"]), Str(model["query"]), Str(query["datasourceUid"]), TimeSpan.FromSeconds(Number(range["from"])), TimeSpan.FromSeconds(Number(range["to"])));
                }).ToList();
                Assert.True(queries.Count >= 1, $"rule {uid} has no datasource query");

                var condition = Map(data[Str(rule["condition"])]["model"]);
                Assert.Equal("threshold", Str(condition["type"]));
                var conditionEntry = Map(Seq(condition["conditions"]).Single());
                var evaluator = Map(conditionEntry["evaluator"]);
                var recovery = conditionEntry.TryGetValue("unloadEvaluator", out var unload) ? Map(unload) : null;

                // Each query is reduced by a reduce expression; the threshold reads a reduce or a math expression.
                var reduced = new Dictionary<string, string>(StringComparer.Ordinal);
                string? reducer = null;
                foreach (var (refId, node) in data)
                {
                    var model = Map(node["model"]);
                    if (Str(node["datasourceUid"]) == "__expr__" && Str(model["type"]) == "reduce")
                    {
                        reduced[refId] = Str(model["expression"]);
                        reducer ??= Str(model["reducer"]);
                        Assert.Equal(reducer, Str(model["reducer"]));
                    }
                }

                Assert.Equal(queries.Select(q => q.RefId).Order(), reduced.Values.Order());
                var input = Map(data[Str(condition["expression"])]["model"]);
                string? math = null;
                if (Str(input["type"]) == "math")
                {
                    math = Str(input["expression"]);
                }
                else
                {
                    Assert.Equal("reduce", Str(input["type"]));
                    Assert.Single(queries);
                }

                rules.Add(new AlertRule(
                    uid,
                    Str(rule["title"]),
                    Str(group["folder"]),
                    Str(rule["condition"]),
                    queries,
                    reduced,
                    reducer!,
                    math,
                    Str(evaluator["type"]),
                    Seq(evaluator["params"]).Select(Number).ToList(),
                    recovery is null ? null : Str(recovery["type"]),
                    recovery is null ? [] : Seq(recovery["params"]).Select(Number).ToList(),
                    rule.TryGetValue("for", out var forValue) ? Str(forValue) : string.Empty,
                    StringMap(rule, "labels"),
                    StringMap(rule, "annotations")));
            }
        }

        return rules;
    }

    /// <summary>The dashboard's InfluxDB annotation queries: name and query.</summary>
    public static IReadOnlyList<(string Name, string Query, string TextColumn, string TagsColumn)> AnnotationQueries()
    {
        using var doc = Dashboard();
        return doc.RootElement.GetProperty("annotations").GetProperty("list").EnumerateArray()
            .Where(a => a.TryGetProperty("query", out _))
            .Select(a => (a.GetProperty("name").GetString()!, a.GetProperty("query").GetString()!, a.GetProperty("textColumn").GetString()!, a.GetProperty("tagsColumn").GetString()!))
            .ToList();
    }

    /// <summary>Every panel: id, type, title, its queries, its byName override names and the fields its transformations calculate.</summary>
    public static IReadOnlyList<(int Id, string Type, string Title, IReadOnlyList<PanelQuery> Queries, IReadOnlyList<string> Overrides, IReadOnlyList<string> Calculated)> Panels()
    {
        using var doc = Dashboard();
        var queries = PanelQueries();
        var panels = new List<(int, string, string, IReadOnlyList<PanelQuery>, IReadOnlyList<string>, IReadOnlyList<string>)>();
        void Collect(JsonElement list)
        {
            foreach (var panel in list.EnumerateArray())
            {
                if (panel.TryGetProperty("panels", out var nested))
                {
                    Collect(nested);
                }

                var id = panel.GetProperty("id").GetInt32();
                var overrides = panel.TryGetProperty("fieldConfig", out var fc) && fc.TryGetProperty("overrides", out var o)
                    ? o.EnumerateArray().Where(x => x.GetProperty("matcher").GetProperty("id").GetString() == "byName").Select(x => x.GetProperty("matcher").GetProperty("options").GetString()!).ToList()
                    : [];
                // Fields a calculateField transformation adds (by its alias).
                var calculated = panel.TryGetProperty("transformations", out var tr)
                    ? tr.EnumerateArray().Where(x => x.GetProperty("id").GetString() == "calculateField").Select(x => x.GetProperty("options").GetProperty("alias").GetString()!).ToList()
                    : [];
                panels.Add((id, panel.GetProperty("type").GetString()!, panel.TryGetProperty("title", out var t) ? t.GetString()! : string.Empty, queries.Where(q => q.PanelId == id).ToList(), overrides, calculated));
            }
        }

        Collect(doc.RootElement.GetProperty("panels"));
        return panels;
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
