using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>What every chaos test checks at the end, and how it reports: the seed is in every failure message.</summary>
internal static class ChaosChecks
{
    /// <summary>
    /// The seed of a chaos run: <c>PRINTFARM_CHAOS_SEED</c> when set (to replay a failure), else a new one per run,
    /// so CI explores other moments every time.
    /// </summary>
    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("PRINTFARM_CHAOS_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : Random.Shared.Next();

    /// <summary>A failure that says how to replay the run: the seed, the moments of the faults, and the worker's output.</summary>
    public static Xunit.Sdk.XunitException Failure(int seed, string moments, Exception inner, string workerOutput) =>
        new($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed}), {moments}: {inner.Message}\n--- worker output (tail) ---\n{(workerOutput.Length <= 8000 ? workerOutput : "…" + workerOutput[^8000..])}", inner);

    /// <summary>Batches waiting in a worker's spool (<c>*.lp</c> files in <c>{data}/spool</c>).</summary>
    public static int SpooledBatches(string dataFolder)
    {
        var spool = Path.Combine(dataFolder, "spool");
        return Directory.Exists(spool) ? Directory.GetFiles(spool, "*.lp").Length : 0;
    }

    /// <summary>A fresh database on <paramref name="influx"/>.</summary>
    public static async Task<string> NewDatabaseAsync(InfluxDbServer influx, string name)
    {
        var database = name + "_" + Guid.NewGuid().ToString("N")[..10];
        await influx.CreateDatabaseAsync(database);
        return database;
    }

    /// <summary>
    /// The uninterrupted reference: the real worker host in-process (<see cref="WorkerHost"/>, wired as Program.cs wires
    /// it), subscribed to the same broker with its own session, writing to its own database. It receives the very
    /// same messages, with the same event times, as the worker under test, and is never disturbed.
    /// </summary>
    public static Task<WorkerHost> StartReferenceAsync(MosquittoServer broker, InfluxDbServer influx, string database)
    {
        var settings = WorkerHost.BaseSettings(broker);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        return WorkerHost.StartAsync(settings);
    }

    /// <summary>Publishes messages in order on one connection (QoS 1 unless <paramref name="qos0"/>).</summary>
    public static async Task PublishAsync(MosquittoServer broker, IEnumerable<ChaosMessage> messages, bool qos0 = false)
    {
        await using var printers = await TestPublisher.ConnectAsync(broker);
        foreach (var m in messages)
        {
            await (qos0 ? printers.PublishJsonAtMostOnceAsync(m.Topic, m.Payload) : printers.PublishJsonAsync(m.Topic, m.Payload));
        }

        if (qos0)
        {
            // A QoS 0 publish completes before the broker has the message, and a disconnect right after can lose the
            // last ones. The broker handles one connection's packets in order: once it acknowledges a QoS 1 message
            // sent after them, it has every QoS 0 message before it.
            await printers.PublishJsonAsync("chaos/flush", new { });
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> job points are in the database.</summary>
    public static Task WaitForJobsAsync(InfluxDbServer influx, string database, int count, string what) =>
        Eventually.Until(() => influx.QueryAsync(database, "SELECT count(\"print_time_s\") FROM job"), rows => rows.Count == 1 && rows[0].Number("count") >= count, what, describe: rows => rows.Format());

    /// <summary>Every job of the trace has exactly one <c>job</c> point, with the right figures; there are no others.</summary>
    public static async Task AssertJobsAsync(InfluxDbServer influx, string database, ChaosTrace trace, bool octoPrint, int seed)
    {
        var rows = await Eventually.Until(
            () => influx.QueryAsync(database, "SELECT * FROM job"),
            r => r.Count >= trace.Jobs.Count && r.All(InfluxRowExtensions.IsWholeJobPoint),
            $"{trace.Jobs.Count} job points (seed {seed})",
            describe: r => $"{r.Count} job points");
        Assert.True(rows.Count == trace.Jobs.Count, $"seed {seed}: {rows.Count} job points for {trace.Jobs.Count} jobs");
        foreach (var job in trace.Jobs)
        {
            var matching = rows.Where(r => r.Text("printer") == job.Printer && r.Time() == job.End).ToList();
            Assert.True(matching.Count == 1, $"seed {seed}: {matching.Count} job points for {job.JobId} ({job.Printer}, ended {job.End:O})");
            var row = matching[0];
            var expectedId = octoPrint ? ChaosTrace.OctoPrintJobId(job) : job.JobId;
            Assert.True(
                row.Text("job_id") == expectedId && row.Text("outcome") == job.Outcome && row.Text("toy") == job.Toy
                && row.Number("toys") == job.Quantity && Math.Abs(row.Number("print_time_s") - job.PrintTime) < 1e-6
                && (octoPrint || Math.Abs(row.Number("filament_g") - job.Grams) < 1e-6),
                $"seed {seed}: job point of {job.JobId} is {{{string.Join(", ", row.Select(kv => kv.Key + "=" + kv.Value))}}}, expected {job}");
        }
    }

    /// <summary>
    /// Every final <c>kpi</c> value (each window × scope × subject) of the database under test equals that of the
    /// uninterrupted reference, and the day's farm totals are the trace's. Polls, since the last flushes may still be
    /// on their way; fails with the differences.
    /// </summary>
    public static async Task AssertSameKpisAsync(InfluxDbServer influx, string database, InfluxDbServer referenceInflux, string referenceDatabase, ChaosTrace trace, int seed)
    {
        var day = trace.FarmDay();
        var (actual, expected) = await Eventually.Until(
            async () => (await KpisAsync(influx, database), await KpisAsync(referenceInflux, referenceDatabase)),
            pair => FarmDayMatches(pair.Item1, day) && FarmDayMatches(pair.Item2, day) && Differences(pair.Item1, pair.Item2).Count == 0,
            $"the final kpi points to equal the uninterrupted run's and the trace's day totals (seed {seed})",
            describe: pair => string.Join("\n", Differences(pair.Item1, pair.Item2).Take(20).Prepend($"{pair.Item1.Count} kpi series vs {pair.Item2.Count} in the reference; farm day {FarmDayText(pair.Item1)} vs expected {day}")));
        Assert.Equal(expected.Count, actual.Count);
    }

    /// <summary>The day's farm <c>kpi</c> point ends with the trace's totals: every job counted, none twice.</summary>
    public static async Task AssertFarmDayAsync(InfluxDbServer influx, string database, ChaosTrace trace, int seed)
    {
        var day = trace.FarmDay();
        await Eventually.Until(
            () => KpisAsync(influx, database),
            kpis => FarmDayMatches(kpis, day),
            $"the day's farm kpi point to hold the trace's totals {day} (seed {seed})",
            describe: FarmDayText);
    }

    /// <summary>Whether every hosted background service of the in-process worker is still running (none crashed).</summary>
    public static bool AllRunning(WorkerHost worker) =>
        worker.Host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Microsoft.Extensions.Hosting.BackgroundService>()
            .All(s => s.ExecuteTask is { IsCompleted: false });

    private static async Task<Dictionary<string, Dictionary<string, double>>> KpisAsync(InfluxDbServer influx, string database)
    {
        // GROUP BY * puts the tags on each row; every kpi field is a number, every tag a string.
        var rows = await influx.QueryAsync(database, "SELECT * FROM kpi GROUP BY *");
        var kpis = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var tags = row.Where(kv => kv.Value.ValueKind == JsonValueKind.String).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value.GetString()}");
            var key = string.Join(",", tags) + "@" + row.Time().ToString("O", CultureInfo.InvariantCulture);
            kpis[key] = row.Where(kv => kv.Key != "time" && kv.Value.ValueKind == JsonValueKind.Number).ToDictionary(kv => kv.Key, kv => kv.Value.GetDouble(), StringComparer.Ordinal);
        }

        return kpis;
    }

    private static string FarmDayKey(Dictionary<string, Dictionary<string, double>> kpis) =>
        kpis.Keys.SingleOrDefault(k => k.Contains("scope=farm,", StringComparison.Ordinal) && k.Contains("window=1d@", StringComparison.Ordinal)) ?? string.Empty;

    private static bool FarmDayMatches(Dictionary<string, Dictionary<string, double>> kpis, (int Completed, int Failed, int Cancelled, int Toys, double PrintTime) day) =>
        kpis.TryGetValue(FarmDayKey(kpis), out var f)
        && f.GetValueOrDefault("jobs_completed") == day.Completed
        && f.GetValueOrDefault("jobs_failed") == day.Failed
        && f.GetValueOrDefault("jobs_cancelled") == day.Cancelled
        && f.GetValueOrDefault("toys_completed") == day.Toys
        && Math.Abs(f.GetValueOrDefault("print_time_s") - day.PrintTime) < 1e-6;

    private static string FarmDayText(Dictionary<string, Dictionary<string, double>> kpis) =>
        kpis.TryGetValue(FarmDayKey(kpis), out var f)
            ? string.Create(CultureInfo.InvariantCulture, $"({f.GetValueOrDefault("jobs_completed")}, {f.GetValueOrDefault("jobs_failed")}, {f.GetValueOrDefault("jobs_cancelled")}, {f.GetValueOrDefault("toys_completed")}, {f.GetValueOrDefault("print_time_s")})")
            : "missing";

    private static List<string> Differences(Dictionary<string, Dictionary<string, double>> actual, Dictionary<string, Dictionary<string, double>> expected)
    {
        var differences = new List<string>();
        foreach (var key in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            if (!actual.TryGetValue(key, out var a))
            {
                differences.Add($"missing {key}");
                continue;
            }

            if (!expected.TryGetValue(key, out var e))
            {
                differences.Add($"extra {key}");
                continue;
            }

            foreach (var field in e.Keys.Union(a.Keys))
            {
                var hasA = a.TryGetValue(field, out var av);
                var hasE = e.TryGetValue(field, out var ev);
                if (hasA != hasE || Math.Abs(av - ev) > 1e-9 * Math.Max(1, Math.Abs(ev)))
                {
                    differences.Add(string.Create(CultureInfo.InvariantCulture, $"{key} {field}: {(hasA ? av : "none")} vs reference {(hasE ? ev : "none")}"));
                }
            }
        }

        return differences;
    }
}
