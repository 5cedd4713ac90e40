using System.Globalization;
using System.Text;
using System.Text.Json;
using PrintFarm.Core.LineProtocol;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// The <i>Ingestion health</i> row and its two alert rules, evaluated on a real InfluxDB holding ingest points the
/// way the worker writes them: a missing point for 2 minutes fires, a spool that grows fires, a healthy hour does not.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class IngestHealthBoardTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Start = new(2026, 3, 3, 14, 0, 0, TimeSpan.Zero);

    internal static bool IsIngestRule(AlertRule rule) => rule.Uid.StartsWith("printfarm-ingest", StringComparison.Ordinal);

    /// <summary>
    /// Writes ingest points every <paramref name="step"/> in [from, to); <paramref name="spoolBytes"/> gives the spool
    /// size at each time (default empty).
    /// </summary>
    internal static async Task WriteIngestPointsAsync(string influxUrl, string database, string farm, DateTimeOffset from, DateTimeOffset to, TimeSpan step, Func<DateTimeOffset, long>? spoolBytes = null)
    {
        var line = new LineBuilder();
        var lines = new StringBuilder();
        for (var t = from; t < to; t += step)
        {
            lines.Append(line.Measurement("ingest").Tag("farm", farm)
                .Field("inbound_depth", 0L).Field("lines_depth", 3L)
                .Field("spool_bytes", spoolBytes?.Invoke(t) ?? 0L).Field("spool_batches", 0L).Field("spool_oldest_age_s", 0.0)
                .Field("watermark_lag_s", 42.0).Field("checkpoint_age_s", 2.5).Field("mqtt_connected", true)
                .Field("open_jobs", 5L).Field("open_windows", 40L).Field("folded_values", 0L)
                .Field("messages_per_s", 12.5).Field("rejected_per_s", 0.0).Field("points_written_per_s", 20.0)
                .Field("points_spooled_per_s", 0.0).Field("points_dropped_per_s", 0.0).Field("write_failures_per_s", 0.0)
                .Build(t)).Append('\n');
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var body = new StringContent(lines.ToString(), Encoding.UTF8, "text/plain");
        using var response = await http.PostAsync(new Uri($"{influxUrl}/write?db={Uri.EscapeDataString(database)}&precision={LineBuilder.Precision}"), body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void The_board_has_an_ingestion_health_row_and_both_ingest_rules_exist()
    {
        var queries = GrafanaFiles.PanelQueries().Where(q => q.Query.Contains("FROM \"ingest\"", StringComparison.Ordinal)).ToList();
        Assert.True(queries.Count >= 5, $"only {queries.Count} ingest panels");
        var rules = GrafanaFiles.AlertRules().Where(IsIngestRule).ToList();
        Assert.Equal(["printfarm-ingest-missing", "printfarm-ingest-spool-growing"], rules.Select(r => r.Uid).Order(StringComparer.Ordinal));
        Assert.All(rules, r => Assert.Equal(TimeSpan.Zero, r.RangeTo));
        Assert.Equal(TimeSpan.FromMinutes(2), rules.Single(r => r.Uid == "printfarm-ingest-missing").RangeFrom);
    }

    [Fact]
    public async Task The_missing_point_rule_fires_after_2_minutes_without_a_point_and_the_spool_rule_when_the_spool_grows()
    {
        var database = "ingestboard_" + Guid.NewGuid().ToString("N");
        var farm = "farm-" + Guid.NewGuid().ToString("N")[..8];
        await services.Influx.CreateDatabaseAsync(database);

        // 14:00–14:40 healthy except a spool growing 14:20–14:40; then the worker is gone.
        await WriteIngestPointsAsync(services.Influx.Url, database, farm, Start, Start.AddMinutes(40), TimeSpan.FromSeconds(10),
            t => t < Start.AddMinutes(20) ? 0 : (long)(t - Start.AddMinutes(20)).TotalSeconds * 1000);
        var rules = GrafanaFiles.AlertRules().Where(IsIngestRule).ToDictionary(r => r.Uid);
        var missing = rules["printfarm-ingest-missing"];
        var spool = rules["printfarm-ingest-spool-growing"];

        var healthy = Assert.Single(await EvaluateAsync(missing, database, Start.AddMinutes(10)));
        Assert.Equal(farm, healthy.Farm);
        Assert.False(missing.Fires(healthy.Value), $"{healthy.Value} points in 2 minutes should not fire");
        Assert.Empty(await EvaluateAsync(missing, database, Start.AddMinutes(43))); // no data: noDataState Alerting fires

        var flat = Assert.Single(await EvaluateAsync(spool, database, Start.AddMinutes(15)));
        Assert.False(spool.Fires(flat.Value));
        var growing = Assert.Single(await EvaluateAsync(spool, database, Start.AddMinutes(35)));
        Assert.True(spool.Fires(growing.Value), $"a spool growth of {growing.Value} should fire");
    }

    private async Task<IReadOnlyList<(string Farm, double Value)>> EvaluateAsync(AlertRule rule, string database, DateTimeOffset now)
    {
        var template = new GrafanaTemplate(now - rule.RangeFrom, now - rule.RangeTo, TimeSpan.FromMinutes(1));
        var rows = await services.Influx.QueryAsync(database, template.Render(rule.Query));
        var column = rows.SelectMany(r => r.Keys).Distinct().SingleOrDefault(k => k is not "time" and not "farm");
        return column is null
            ? []
            : rows.Where(r => r[column].ValueKind == JsonValueKind.Number).Select(r => (r.Text("farm")!, r.Number(column))).ToList();
    }
}
