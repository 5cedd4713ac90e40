using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>
/// Issue 20, "KPIs stay exact" for the built-in alerts: the farm-, toy- and material-wide alerts of clustered workers
/// (the farm alert stage, fed the partitions' partial sums) are the single worker's on the same trace — same rules,
/// subjects, states, event times and values — with the workers in process and as processes, on a real 3-node
/// nats-server cluster and a real InfluxDB; and a SIGKILL of the worker running the stage loses or repeats none.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ClusterAlertsTests(ServicesFixture services, ClusterModeFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterModeFixture>
{
    private static readonly DateTimeOffset Day = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Two_workers_fire_and_resolve_the_farm_toy_and_material_alerts_exactly_as_a_single_worker_does()
    {
        var expected = await SingleWorkerAlertsAsync();

        var trace = ClusterPublisher.OnBothSides(
            ClusterPublisher.Fresh(() => new FarmDropTrace("ca" + Guid.NewGuid().ToString("N")[..6])), t => t.Printers, ClusterModeFixture.Partitions, new HashSet<int> { 0, 1, 2, 3 });
        var names = Names.New("alerts");
        var database = "cluster_alerts_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        try
        {
            var workers = new List<WorkerHost>();
            try
            {
                foreach (var owned in new[] { "0-3", "4-7" })
                {
                    var settings = names.WorkerSettings(services, Cluster, database, ClusterModeFixture.Partitions, owned, TimeSpan.FromSeconds(0.5));
                    Rules(settings);
                    workers.Add(await WorkerHost.StartAsync(settings, waitForSubscription: false));
                }

                var (before, after) = trace.Split(Day.AddHours(3));
                await ClusterPublisher.PublishInOrderAsync(Cluster, before);
                await WaitForStageAsync(names, Day.AddHours(1));
                await ClusterPublisher.PublishInOrderAsync(Cluster, after);
                await WaitForStageAsync(names, FarmDropTrace.LastClosed);
                Assert.All(workers, w => Assert.True(w.Counter("printfarm.jobs.ended") > 0, "a worker had no job: the failing jobs should come from both workers' partitions"));
                var judge = Assert.Single(workers, w => w.Logs.Entries.Any(e => e.Message.Contains("runs the farm alert stage", StringComparison.Ordinal)));

                // /readyz of the worker running the stage says so, and how far it has judged.
                var stage = await StageReadinessAsync(judge);
                Assert.Equal("this worker", stage.GetProperty("owner").GetString());
                Assert.Equal(FarmDropTrace.LastClosed, stage.GetProperty("judgedUntil").GetDateTimeOffset());
                Assert.Equal(ClusterModeFixture.Partitions, stage.GetProperty("partitionsReported").GetInt32());
            }
            finally
            {
                foreach (var worker in workers)
                {
                    await worker.DisposeAsync();
                }
            }

            var actual = await AlertsAsync(database);
            AssertSame(expected, actual, "2 workers");
            output.WriteLine($"2 workers: {actual.Count} farm, toy and material transitions, all equal to the single worker's");
        }
        finally
        {
            await DeleteAsync(names);
        }
    }

    [Fact]
    public async Task SIGKILL_of_the_worker_running_the_stage_moves_it_to_the_other_and_no_transition_is_lost_or_repeated()
    {
        var expected = await SingleWorkerAlertsAsync();
        var farmFiring = expected.Single(a => a.Scope == "farm" && a.State == "firing");

        var trace = new FarmDropTrace("ck" + Guid.NewGuid().ToString("N")[..6]);
        var names = Names.New("alertkill");
        var database = "cluster_alertkill_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        try
        {
            await using var a = await WorkerProcess.StartAsync(ProcessSettings(names, database, "w-a"));
            await using var b = await WorkerProcess.StartAsync(ProcessSettings(names, database, "w-b"));
            var first = trace.Range(DateTimeOffset.MinValue, Day.AddHours(3));
            var second = trace.Range(Day.AddHours(3), farmFiring.At.AddMinutes(20));
            var third = trace.Range(farmFiring.At.AddMinutes(20), DateTimeOffset.MaxValue);
            await ClusterPublisher.PublishInOrderAsync(Cluster, first);
            await WaitForStageAsync(names, Day.AddHours(1));
            await ClusterPublisher.PublishInOrderAsync(Cluster, second);

            // The farm's alert has fired: the worker running the stage dies before the resolve.
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT * FROM \"alert\" WHERE \"scope\" = 'farm'"),
                rows => rows.Count >= 1,
                "the farm's alert to fire",
                TimeSpan.FromSeconds(60),
                describe: rows => rows.Format() + "\na: " + a.Output + "\nb: " + b.Output);
            var owner = await StageOwnerAsync(names);
            var (victim, survivor) = owner == "w-a" ? (a, b) : (b, a);
            await victim.KillAsync();
            var killed = System.Diagnostics.Stopwatch.StartNew();

            await ClusterPublisher.PublishInOrderAsync(Cluster, third);
            await Eventually.Until(() => StageOwnerAsync(names), o => o == (owner == "w-a" ? "w-b" : "w-a"), "the other worker to take the stage", TimeSpan.FromSeconds(30));
            output.WriteLine($"stage taken over {killed.Elapsed.TotalSeconds:F1} s after the SIGKILL (lease 3 s)");
            await WaitForStageAsync(names, FarmDropTrace.LastClosed);
            Assert.NotEmpty(survivor.LinesContaining("runs the farm alert stage"));

            var actual = await AlertsAsync(database);
            AssertSame(expected, actual, "2 workers with a SIGKILL of the stage's owner");
        }
        finally
        {
            await DeleteAsync(names);
        }
    }

    // The reference: one single-machine worker on the same trace, fed through the broker; the part before the drop
    // first, so its first judgement (which judges only the newest closed window) falls before anything drops.
    private async Task<List<AlertRow>> SingleWorkerAlertsAsync()
    {
        var trace = new FarmDropTrace("cs" + Guid.NewGuid().ToString("N")[..6]);
        var database = "cluster_alerts_single_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.5";

        // Only the native format: a retained message of another test in another format would hold the watermark back.
        settings["PrintFarm:Adapters:OctoPrint:Enabled"] = "false";
        settings["PrintFarm:Adapters:Moonraker:Enabled"] = "false";
        settings["PrintFarm:Adapters:Bambu:Enabled"] = "false";
        Rules(settings);
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            var state = Path.Combine(worker.DataFolder, "checkpoint", "state.json");
            var (before, after) = trace.Split(Day.AddHours(3));
            await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                foreach (var (topic, payload) in before)
                {
                    await printers.PublishJsonAsync(topic, payload);
                }

                await Eventually.Until(() => Task.FromResult(EvaluatedUntil(File.Exists(state) ? File.ReadAllText(state) : null)), t => t >= Day.AddHours(1), "the single worker's first judgement", TimeSpan.FromSeconds(60));
                foreach (var (topic, payload) in after)
                {
                    await printers.PublishJsonAsync(topic, payload);
                }
            }

            await Eventually.Until(() => Task.FromResult(EvaluatedUntil(File.Exists(state) ? File.ReadAllText(state) : null)), t => t >= FarmDropTrace.LastClosed, "the single worker to judge the last window", TimeSpan.FromSeconds(60));
        }

        var alerts = await AlertsAsync(database);

        // The trace does what it says: the farm's material efficiency drops and comes back, once.
        Assert.Equal(["firing", "resolved"], alerts.Where(x => x.Scope == "farm" && x.Rule == "efficiency_drop").Select(x => x.State));
        Assert.Contains(alerts, x => x.Scope == "toy");
        Assert.Contains(alerts, x => x.Scope == "material");
        return alerts;
    }

    // The drop rules on farm, toys and materials (printer-scope rules run in the partitions and are not compared
    // here); the thresholds stay at their default, the farm.
    private static void Rules(Dictionary<string, string?> settings)
    {
        settings["PrintFarm:Alerts:TopicPrefix"] = "test-cluster-alerts-" + Guid.NewGuid().ToString("N")[..8];
        settings["PrintFarm:Alerts:Rules:DropScopes:0"] = "Farm";
        settings["PrintFarm:Alerts:Rules:DropScopes:1"] = "Toy";
        settings["PrintFarm:Alerts:Rules:DropScopes:2"] = "Material";
    }

    private Dictionary<string, string> ProcessSettings(Names names, string database, string worker)
    {
        var settings = WorkerProcess.Settings(services.Mqtt, services.Influx.Url, database, worker);
        settings["PrintFarm__Cluster__Enabled"] = "true";
        settings["PrintFarm__Cluster__Url"] = Cluster.ClientUrl;
        settings["PrintFarm__Cluster__Partitions"] = ClusterModeFixture.Partitions.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm__Cluster__Stream"] = names.Stream;
        settings["PrintFarm__Cluster__CheckpointBucket"] = names.Bucket;
        settings["PrintFarm__Cluster__LeaseBucket"] = names.Bucket + "_leases";
        settings["PrintFarm__Cluster__LeaseTtl"] = "00:00:03";
        settings["PrintFarm__Cluster__WorkerId"] = worker;
        var rules = new Dictionary<string, string?>();
        Rules(rules);
        foreach (var (key, value) in rules)
        {
            settings[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }

        return settings;
    }

    // The stage's saved state says how far it has judged.
    private async Task WaitForStageAsync(Names names, DateTimeOffset until) =>
        await Eventually.Until(
            async () =>
            {
                await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-stage");
                try
                {
                    var bucket = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(names.Bucket + "_partials");
                    var entry = await bucket.GetEntryAsync<string>("alerts");
                    return EvaluatedUntil(entry.Value);
                }
                catch (NatsKVException)
                {
                    return DateTimeOffset.MinValue;
                }
            },
            t => t >= until,
            $"the farm alert stage to judge up to {until:O}",
            TimeSpan.FromSeconds(90),
            describe: t => $"judged until {t:O}");

    private static async Task<JsonElement> StageReadinessAsync(WorkerHost worker)
    {
        using var http = new HttpClient();
        var readyz = new Uri(worker.Host.Services.GetRequiredService<PrintFarm.Worker.Operations.HealthEndpointService>().Url!, "/readyz");
        using var doc = JsonDocument.Parse(await http.GetStringAsync(readyz));
        return doc.RootElement.GetProperty("checks").GetProperty("cluster").GetProperty("data").GetProperty("farmAlertStage").Clone();
    }

    private async Task<string?> StageOwnerAsync(Names names)
    {
        await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-stage");
        try
        {
            var bucket = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(names.Bucket + "_leases");
            return (await bucket.GetEntryAsync<string>("alerts")).Value;
        }
        catch (NatsKVException)
        {
            return null;
        }
    }

    private static DateTimeOffset EvaluatedUntil(string? json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json ?? "");
            return doc.RootElement.TryGetProperty("alerts", out var alerts) && alerts.TryGetProperty("EvaluatedUntil", out var until) && until.GetInt64() > 0
                ? new DateTimeOffset(until.GetInt64(), TimeSpan.Zero)
                : DateTimeOffset.MinValue;
        }
        catch (JsonException)
        {
            return DateTimeOffset.MinValue;
        }
    }

    private async Task<List<AlertRow>> AlertsAsync(string database) =>
        (await services.Influx.QueryAsync(database, "SELECT * FROM \"alert\" WHERE \"scope\" <> 'printer'"))
        .Select(r => new AlertRow(r.Text("rule")!, r.Text("scope")!, r.Text("toy") ?? r.Text("material") ?? "", r.Text("state")!, r.Time(), r.Number("value"), r.Text("baseline") is null ? null : r.Number("baseline")))
        .OrderBy(r => r.At).ThenBy(r => r.Rule, StringComparer.Ordinal).ThenBy(r => r.Scope, StringComparer.Ordinal).ThenBy(r => r.Subject, StringComparer.Ordinal)
        .ToList();

    // Same transitions; values to 1e-9 relative: the partitions add their jobs' grams up on their own, then the stage
    // adds the partitions' sums, another order of the same float additions than one engine's.
    private static void AssertSame(List<AlertRow> expected, List<AlertRow> actual, string what)
    {
        static bool Near(double? x, double? y) => x is null ? y is null : y is not null && Math.Abs(x.Value - y.Value) <= 1e-9 * Math.Max(Math.Abs(x.Value), Math.Abs(y.Value));
        var same = expected.Count == actual.Count && expected.Zip(actual).All(p =>
            (p.First.Rule, p.First.Scope, p.First.Subject, p.First.State, p.First.At) == (p.Second.Rule, p.Second.Scope, p.Second.Subject, p.Second.State, p.Second.At)
            && Near(p.First.Value, p.Second.Value) && Near(p.First.Baseline, p.Second.Baseline));
        Assert.True(same, $"{what} differ from a single worker:\n  single worker: {string.Join("\n                 ", expected)}\n  {what}: {string.Join("\n                 ", actual)}");
    }

    private sealed record AlertRow(string Rule, string Scope, string Subject, string State, DateTimeOffset At, double Value, double? Baseline);

    private async Task DeleteAsync(Names names)
    {
        await names.DeleteAsync(Cluster);
        await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-cleanup");
        try
        {
            await new NatsKVContext(new NatsJSContext(nats)).DeleteStoreAsync(names.Bucket + "_partials");
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            // None.
        }
    }

    /// <summary>
    /// Eight printers printing dragons in PLA for 13 hours, four 10-minute jobs an hour each: three complete with
    /// 40 g, one fails after 4 g. From 06:00 to 09:00 the failing job of every printer fails late, after 35 g: the
    /// farm's (and the toy's and material's) material efficiency falls from 96.8 % to 77.4 % an hour, their success
    /// rate and print time per toy stay. At 14:00 every printer reports once, which closes every window of the jobs.
    /// </summary>
    private sealed class FarmDropTrace(string prefix)
    {
        /// <summary>The last window boundary the trace's watermark closes.</summary>
        public static DateTimeOffset LastClosed => Day.AddHours(13);

        public List<string> Printers { get; } = Enumerable.Range(1, 8).Select(i => $"{prefix}-p{i}").ToList();

        public IEnumerable<(DateTimeOffset At, string Topic, object Payload)> Messages()
        {
            var printers = Printers;
            var jobs = printers.SelectMany(printer => Enumerable.Range(0, 13).SelectMany(hour => Enumerable.Range(0, 4).Select(slot =>
            {
                var start = Day.AddHours(hour).AddMinutes((15 * slot) + printers.IndexOf(printer));
                var failing = slot == 3;
                var grams = failing ? (hour is >= 6 and < 9 ? 35 : 4) : 40;
                return (Printer: printer, Id: $"{printer}-{hour}-{slot}", Start: start, End: start.AddMinutes(10), Outcome: failing ? "failed" : "completed", Grams: grams);
            })));
            return jobs
                .SelectMany(j => new (DateTimeOffset At, string Topic, object Payload)[]
                {
                    (j.Start, Topic(j.Printer), new { type = "job_started", ts = j.Start.ToString("O"), job_id = j.Id, file = "dragon.gcode", material = "PLA" }),
                    (j.Start.AddMinutes(5), Topic(j.Printer), new { type = "job_progress", ts = j.Start.AddMinutes(5).ToString("O"), job_id = j.Id, progress_pct = 50.0, state = "printing" }),
                    (j.End, Topic(j.Printer), new { type = "job_finished", ts = j.End.ToString("O"), job_id = j.Id, file = "dragon.gcode", outcome = j.Outcome, filament_g = j.Grams, print_time_s = 600 }),
                })
                .Concat(printers.Select(p => (At: Day.AddHours(14), Topic: Topic(p), Payload: (object)new { type = "status", ts = Day.AddHours(14).ToString("O"), state = "idle" })))
                .OrderBy(m => m.At);
        }

        /// <summary>The messages before <paramref name="at"/> and the rest.</summary>
        public (List<(string Topic, object Payload)> Before, List<(string Topic, object Payload)> After) Split(DateTimeOffset at) =>
            (Range(DateTimeOffset.MinValue, at), Range(at, DateTimeOffset.MaxValue));

        /// <summary>The messages from <paramref name="from"/> (included) to <paramref name="to"/>.</summary>
        public List<(string Topic, object Payload)> Range(DateTimeOffset from, DateTimeOffset to) =>
            Messages().Where(m => m.At >= from && m.At < to).Select(m => (m.Topic, m.Payload)).ToList();

        private static string Topic(string printer) => $"printfarm/{printer}/event";
    }
}
