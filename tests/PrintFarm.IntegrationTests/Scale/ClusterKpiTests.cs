using System.Globalization;
using System.Text.Json;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>
/// Issue 20, test 1 ("KPIs stay exact"): the same trace of 500 jobs from 50 printers through one single-machine worker
/// and through two and three clustered workers (real 3-node nats-server cluster, workers in process, one real
/// InfluxDB). Every job has exactly one <c>job</c> point, and every farm, toy and material KPI, read with the board's
/// own queries (which add the partitions' partial points up), is the single worker's.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ClusterKpiTests(ServicesFixture services, ClusterModeFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterModeFixture>
{
    private const int Printers = 50;
    private const int JobsPerPrinter = 10;

    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Two_and_three_workers_give_every_farm_toy_and_material_KPI_of_a_single_worker_on_the_same_trace()
    {
        var trace = new ChaosTrace("ck" + Guid.NewGuid().ToString("N")[..4], new Random(20), Printers, JobsPerPrinter);
        var messages = Messages(trace);
        var jobs = trace.Jobs.Select(j => (j.Printer, j.End)).ToList();
        Assert.True(jobs.Count >= 500 && trace.Jobs.Select(j => j.Printer).Distinct().Count() >= 50);

        // The reference: one worker in single-machine mode (no partition tag), fed through the broker.
        var single = "cluster_kpi_single_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(single);
        await using (var worker = await WorkerHost.StartAsync(SingleSettings(single)))
        {
            await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                foreach (var (topic, payload) in messages)
                {
                    await printers.PublishJsonAsync(topic, payload);
                }
            }

            await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, single, jobs);
            await WaitForTheWholeDayAsync(single, trace);
        }

        var expected = await BoardAnswersAsync(single, trace);
        Assert.True(expected.Sum(a => a.Rows.Count) > 300, "the board's queries should have data to compare");

        foreach (var owned in new[] { new[] { "0-3", "4-7" }, ["0-2", "3-5", "6-7"] })
        {
            var names = Names.New("kpi" + owned.Length);
            var database = $"cluster_kpi_{owned.Length}_" + Guid.NewGuid().ToString("N");
            await services.Influx.CreateDatabaseAsync(database);
            try
            {
                var workers = new List<WorkerHost>();
                try
                {
                    foreach (var partitions in owned)
                    {
                        workers.Add(await WorkerHost.StartAsync(ClusterSettings(names, database, partitions), waitForSubscription: false));
                    }

                    await ClusterPublisher.PublishInOrderAsync(Cluster, messages);
                    await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, database, jobs);
                    await WaitForTheWholeDayAsync(database, trace);
                    Assert.All(workers, w => Assert.True(w.Counter("printfarm.jobs.ended") > 0, "a worker had no job: the printers should spread over every worker's partitions"));

                    // Built-in alerts in a partition judge printers only, and each worker says so once.
                    Assert.All(workers, w => Assert.Single(w.Logs.Entries, e => e.Message.Contains("built-in alert rules (enabled: True) judge printers only", StringComparison.Ordinal)));
                }
                finally
                {
                    // A clean stop drains every pipeline and the writer: what is in the database after it is final.
                    foreach (var worker in workers)
                    {
                        await worker.DisposeAsync();
                    }
                }

                var partitionTags = await services.Influx.QueryAsync(database, "SHOW TAG VALUES FROM \"kpi\" WITH KEY = \"partition\"");
                Assert.True(partitionTags.Count > owned.Length, $"the farm's points should come from many partitions: {partitionTags.Format()}");
                // Farm-wide alerts come from the farm alert stage now; this trace lands before any first judgement, so
                // which windows are judged depends on timing: ClusterAlertsTests compares them with a single worker's.

                var actual = await BoardAnswersAsync(database, trace);
                var differences = expected.Zip(actual).Where(x => !Same(x.First.Rows, x.Second.Rows))
                    .Select(x => $"{x.First.What}:\n  single worker: {x.First.Rows.Format()}\n  {owned.Length} workers:     {x.Second.Rows.Format()}")
                    .ToList();
                Assert.True(differences.Count == 0, $"{owned.Length} workers differ from a single worker in {differences.Count} of {expected.Count} queries:\n" + string.Join("\n", differences));
                output.WriteLine($"{owned.Length} workers: {expected.Count} board and rule queries, {expected.Sum(a => a.Rows.Count)} rows, all equal to the single worker's");
            }
            finally
            {
                await names.DeleteAsync(Cluster);
            }
        }
    }

    // The native trace in event-time order, and then every printer reporting once at 00:20 the next day: every
    // partition's watermark passes the end of the day, so every window of the day is closed and final everywhere
    // (a partition's watermark follows only its own printers).
    private static List<(string Topic, object Payload)> Messages(ChaosTrace trace)
    {
        var next = trace.Day.AddDays(1).AddMinutes(20).ToString("O", CultureInfo.InvariantCulture);
        return trace.NativeMessages().Select(m => (m.Topic, m.Payload))
            .Concat(trace.Jobs.Select(j => j.Printer).Distinct().Select(p => ($"printfarm/{p}/event", (object)new Dictionary<string, object?> { ["type"] = "status", ["ts"] = next, ["state"] = "idle" })))
            .ToList();
    }

    // The day's farm window is final once it holds every printer for the whole day (its capacity) and every job.
    private async Task WaitForTheWholeDayAsync(string database, ChaosTrace trace) =>
        await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT sum(\"capacity_s\") AS \"capacity\", sum(\"jobs_completed\") + sum(\"jobs_failed\") + sum(\"jobs_cancelled\") AS \"jobs\" FROM \"kpi\" WHERE \"scope\" = 'farm' AND \"window\" = '1d' AND time = {trace.Day.ToUnixTimeMilliseconds()}ms"),
            rows => rows.Count == 1 && rows[0].Number("capacity") == Printers * 86400.0 && rows[0].Number("jobs") == trace.Jobs.Count,
            "the day's farm window to be final",
            TimeSpan.FromSeconds(60),
            describe: rows => rows.Format());

    /// <summary>
    /// What the board and the Grafana rules show of the trace's day: every panel query that reads <c>kpi</c>, hourly
    /// and daily, for all printers, toys and materials and for one toy; every rule that reads <c>kpi</c> as Grafana
    /// evaluates it in the afternoon; and the farm's OEE ratios from their summed raw fields.
    /// </summary>
    private async Task<List<(string What, IReadOnlyList<Dictionary<string, JsonElement>> Rows)>> BoardAnswersAsync(string database, ChaosTrace trace)
    {
        var answers = new List<(string, IReadOnlyList<Dictionary<string, JsonElement>>)>();
        var templates = new[] { ("1h", (string?)null), ("1d", null), ("1h", "dragon") }.Select(x =>
        {
            var t = new GrafanaTemplate(trace.Day, trace.Day.AddDays(1).AddMilliseconds(-1), TimeSpan.FromHours(1)).With("farm", "test-farm").With("window", x.Item1);
            t.WithAll("printer", ".*").WithAll("material", ".*");
            return (Name: x.Item1 + (x.Item2 ?? ", all"), Template: x.Item2 is { } toy ? t.WithMulti("toy", toy) : t.WithAll("toy", ".*"));
        });
        foreach (var (name, template) in templates)
        {
            foreach (var query in GrafanaFiles.PanelQueries().Where(q => q.Query.Contains("FROM \"kpi\"", StringComparison.Ordinal)))
            {
                answers.Add(($"[{name}] {query}", await services.Influx.QueryAsync(database, template.Render(query.Query))));
            }

            const string Oee = "SELECT sum(\"oee_printing_s\") / sum(\"oee_planned_s\") AS \"availability\", sum(\"good_toys\") * 1.0 / sum(\"toys_started\") AS \"quality\" FROM \"kpi\" WHERE \"farm\" = '$farm' AND \"scope\" = 'farm' AND \"window\" = '$window' AND $timeFilter GROUP BY time(1s) fill(none)";
            answers.Add(($"[{name}] farm OEE", await services.Influx.QueryAsync(database, template.Render(Oee))));
        }

        foreach (var rule in GrafanaFiles.AlertRules().Where(r => r.Queries.Any(q => q.Query.Contains("FROM \"kpi\"", StringComparison.Ordinal))))
        {
            var instances = await RuleEvaluation.EvaluateAsync(services.Influx, rule, database, trace.Day.AddHours(13));
            answers.Add(($"rule {rule.Uid}", instances.Select(i => i.Labels.ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(kv.Value))
                .Append(new KeyValuePair<string, JsonElement>("value", JsonSerializer.SerializeToElement(i.Value))).ToDictionary()).ToList()));
        }

        return answers;
    }

    // Same rows, same columns; counts (whole numbers) exactly, other numbers to 1e-9 relative: a partition adds its
    // jobs' grams and seconds up on its own and InfluxDB then adds the partitions' sums, another order of the same
    // float additions than one engine's, so only the last bits (about n × 1e-16 relative) may differ.
    private static bool Same(IReadOnlyList<Dictionary<string, JsonElement>> expected, IReadOnlyList<Dictionary<string, JsonElement>> actual) =>
        expected.Count == actual.Count && expected.Zip(actual).All(x => x.First.Keys.Order().SequenceEqual(x.Second.Keys.Order()) && x.First.All(kv =>
        {
            var other = x.Second[kv.Key];
            if (kv.Value.ValueKind != JsonValueKind.Number || other.ValueKind != JsonValueKind.Number)
            {
                return kv.Value.ToString() == other.ToString();
            }

            double a = kv.Value.GetDouble(), b = other.GetDouble();
            return a == Math.Floor(a) && b == Math.Floor(b) ? a == b : Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b));
        }));

    private Dictionary<string, string?> SingleSettings(string database)
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        return settings;
    }

    private Dictionary<string, string?> ClusterSettings(Names names, string database, string owned)
    {
        var settings = SingleSettings(database);
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.2";
        settings["PrintFarm:Cluster:Enabled"] = "true";
        settings["PrintFarm:Cluster:Url"] = Cluster.ClientUrl;
        settings["PrintFarm:Cluster:Partitions"] = ClusterModeFixture.Partitions.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Cluster:Stream"] = names.Stream;
        settings["PrintFarm:Cluster:CheckpointBucket"] = names.Bucket;
        settings["PrintFarm:Cluster:Owned"] = owned;
        return settings;
    }
}
