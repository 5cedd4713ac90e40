using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18 item 6: the cardinality guard at its cap across a SIGKILL replay. Worker as a process, its own Mosquitto,
/// real InfluxDB, <c>Guards:MaxPrinters=1</c>: pA's job is checkpointed (graceful stop), then pB's job is written as
/// <c>printer=other</c>, SIGKILL before any further checkpoint, and the restart replays pB's messages from the journal.
/// Before: the restarted guard was empty, kept pB, and job B1 got a second <c>job</c> point (<c>other</c> and <c>pB</c>).
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class GuardReplayTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Day = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_replay_with_the_guard_at_its_cap_folds_as_the_first_run_did_one_job_point_per_job()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "guardkill_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "guard-kill-" + id);
        settings["PrintFarm__Guards__MaxPrinters"] = "1";
        settings["PrintFarm__CheckpointInterval"] = "00:10:00"; // only the graceful stop checkpoints
        var (pA, pB) = ("pA-" + id, "pB-" + id);

        await using var worker = await WorkerProcess.StartAsync(settings);
        await PublishJobAsync(broker, pA, "A1", Day);
        await JobsAsync(database, 1);
        Assert.Equal(0, await worker.StopAsync()); // pA is kept, in the checkpoint

        await worker.StartAgainAsync();
        await PublishJobAsync(broker, pB, "B1", Day.AddHours(1));
        var before = await JobsAsync(database, 2);
        Assert.Equal("other", before.Single(j => j.Text("job_id") == "B1").Text("printer"));

        await worker.KillAsync(); // pB's messages are only in the journal: the restart replays them
        await worker.StartAgainAsync();
        await PublishJobAsync(broker, pA, "A2", Day.AddHours(2)); // pA is still the kept one
        var jobs = await JobsAsync(database, 3);

        Assert.Equal(3, jobs.Count); // one job point per job
        Assert.Equal([("A1", pA), ("A2", pA), ("B1", "other")], jobs.Select(j => (j.Text("job_id")!, j.Text("printer")!)).Order().ToArray());
        Assert.DoesNotContain(jobs, j => j.Text("printer") == pB);

        // Printer-scope day KPIs add up to the farm's (before: 3 printer-scope jobs against the farm's 2).
        var day = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"window\" = '1d'"),
            rows => rows.Any(r => r.Text("scope") == "farm" && r.Number("jobs_completed") == 3),
            "the farm's day point with 3 jobs",
            describe: rows => rows.Format());
        Assert.Equal(3, day.Where(r => r.Text("scope") == "printer").Sum(r => r.Number("jobs_completed")));
        Assert.Equal(["other", pA], day.Where(r => r.Text("scope") == "printer").Select(r => r.Text("printer")!).Order(StringComparer.Ordinal).ToArray());
    }

    private static async Task PublishJobAsync(MosquittoServer broker, string printer, string job, DateTimeOffset start)
    {
        await using var publisher = await TestPublisher.ConnectAsync(broker);
        await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_started", ts = start.ToUnixTimeSeconds(), job_id = job, file = "cat.gcode" });
        await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = start.AddMinutes(15).ToUnixTimeSeconds(), job_id = job, outcome = "completed", print_time_s = 900, file = "cat.gcode" });
    }

    private async Task<IReadOnlyList<Dictionary<string, System.Text.Json.JsonElement>>> JobsAsync(string database, int count)
    {
        // A2 is published after the restart, and the journal's replay is written before it: once A2's point is there,
        // a second B1 point (the defect) would be too.
        return await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
            rows => rows.Count >= count && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            $"{count} job points",
            describe: rows => rows.Format());
    }
}
