using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Checkpoints;

/// <summary>State that survives restarts: open jobs, windows and de-duplication keys come back from the checkpoint.</summary>
[Collection(ServicesCollection.Name)]
public sealed class CheckpointRestartTests(ServicesFixture services)
{
    [Fact]
    public async Task A_worker_restarted_from_its_last_checkpoint_ends_with_the_same_KPIs_as_an_uninterrupted_run()
    {
        var database = "restart_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var trace = new NativeTrace("rs" + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 5, 11, 0, 0, 0, TimeSpan.Zero));
        var messages = trace.Messages().ToList();
        const int split = 6; // after job A and its redelivered finish; job C (p2) is still printing
        var first = messages.Take(split).ToList();
        var rest = messages.Skip(split).Prepend(messages[split - 1]).ToList(); // the broker redelivers A's finish once more

        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.2";
        var crashFolder = ServerProcess.NewFolder("worker-after-crash");

        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            await PublishAsync(first);
            await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "job A to land");

            // The last checkpoint written while the worker ran is all a kill -9 would leave behind.
            var checkpoint = Path.Combine(worker.DataFolder, "checkpoint", "state.json");
            // Wait for one written after the whole first half: A ended (its key remembered) and C still printing.
            var a = trace.Jobs[0];
            var saved = await Eventually.Until(
                () => Task.FromResult(File.Exists(checkpoint) ? JsonNode.Parse(File.ReadAllText(checkpoint)) : null),
                node => node?["jobs"]?["Printers"]?.AsArray() is { } printers
                    && printers.Any(p => (string?)p?["Printer"] == trace.Prefix + "-p2" && p?["Open"] is not null)
                    && printers.Any(p => (string?)p?["Printer"] == a.Printer && p?["RecentlyEnded"]?.AsArray().Any(k => (string?)k == a.JobId) == true),
                "a checkpoint holding A as ended and C as printing");
            Directory.CreateDirectory(Path.Combine(crashFolder, "checkpoint"));
            File.WriteAllText(Path.Combine(crashFolder, "checkpoint", "state.json"), saved!.ToJsonString());
        }

        settings["PrintFarm:DataFolder"] = crashFolder;
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            Assert.Contains(worker.Logs.Entries, e => e.Message.StartsWith("Restored checkpoint", StringComparison.Ordinal));
            await PublishAsync(rest);

            var expected = NativeTrace.Expect(trace.Jobs);
            var day = await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"window\" = '1d' AND \"scope\" = 'farm'"),
                rows => rows.Count == 1 && rows[0].Number("jobs_cancelled") + rows[0].Number("jobs_failed") + rows[0].Number("jobs_completed") == trace.Jobs.Count,
                "the day's farm KPIs with every job",
                describe: rows => rows.Format());
            Assert.Equal(expected.JobsCompleted, day[0].Number("jobs_completed"));
            Assert.Equal(expected.ToysCompleted, day[0].Number("toys_completed"));
            Assert.Equal(expected.PrintTime, day[0].Number("print_time_s"), 6);
            Assert.Equal(expected.MaterialEfficiency, day[0].Number("material_efficiency"), 9);

            // C started before the restart and ended after it: its start came back from the checkpoint.
            var jobs = await services.Influx.QueryAsync(database, "SELECT * FROM job");
            Assert.Equal(trace.Jobs.Count, jobs.Count);
            var c = trace.Jobs.Single(j => j.JobId is null);
            var cRow = Assert.Single(jobs, r => r.Time() == c.End);
            Assert.Equal((c.End - c.Start).TotalSeconds, cRow.Number("print_time_s"), 6);
            Assert.Equal(trace.Jobs.Count, worker.Counter("printfarm.jobs.ended") + 1); // A ended before the restart
        }
    }

    [Fact]
    public async Task A_corrupt_checkpoint_is_moved_aside_and_the_worker_starts_empty()
    {
        var database = "corrupt_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var folder = ServerProcess.NewFolder("worker-corrupt");
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint"));
        File.WriteAllText(Path.Combine(folder, "checkpoint", "state.json"), "{\"version\": 1, \"jobs\": [tru");
        var settings = WorkerHost.BaseSettings(services.Mqtt, folder);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;

        await using var worker = await WorkerHost.StartAsync(settings);
        Assert.Single(Directory.GetFiles(Path.Combine(folder, "checkpoint"), "state.json.bad-*"));
        Assert.Contains(worker.Logs.AtLeast(LogLevel.Error), l => l.Contains("cannot be used", StringComparison.Ordinal));

        var printer = "corrupt-" + Guid.NewGuid().ToString("N")[..6];
        var end = new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = end.ToUnixTimeSeconds(), job_id = "x", outcome = "completed", print_time_s = 600, file = "cat.gcode" });
        }

        var rows = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), r => r.Count == 1 && r.All(InfluxRowExtensions.IsWholeJobPoint), "the job to land");
        Assert.Equal("cat", rows[0].Text("toy"));
    }

    private async Task PublishAsync(IEnumerable<(string Topic, object Payload)> messages)
    {
        await using var printers = await TestPublisher.ConnectAsync(services.Mqtt);
        foreach (var (topic, payload) in messages)
        {
            await printers.PublishJsonAsync(topic, payload);
        }
    }
}
