using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Chaos test 1 of issue 7: the worker, a real process, killed with SIGKILL at five random moments of a QoS 1 stream
/// and started again on the same data folder and session each time.
/// <para>
/// The uninterrupted reference is the real worker host run in-process (<see cref="WorkerHost"/>, wired by
/// <c>AddPrintFarmTelemetry</c> as Program.cs wires it) on the same broker with its own session and database: it
/// receives the same trace, with the same event times, and is never killed. Its final <c>kpi</c> points are the
/// expected ones; the day's farm totals are also checked against figures computed from the trace itself.
/// </para>
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class WorkerKillTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task Five_SIGKILLs_during_a_QoS_1_stream_lose_no_job_and_count_none_twice()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var random = new Random(seed);
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("k" + id, random, printers: 20, jobsPerPrinter: 10);
        var messages = trace.NativeMessages();
        var kills = ChaosTrace.Moments(random, 5, messages.Count);

        await using var broker = await MosquittoServer.StartShippedAsync();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "kill");
        var referenceDatabase = await ChaosChecks.NewDatabaseAsync(services.Influx, "kill_ref");
        await using var reference = await ChaosChecks.StartReferenceAsync(broker, services.Influx, referenceDatabase);
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(broker, services.Influx.Url, database, "chaos-kill-" + id));
        try
        {
            await using (var printers = await TestPublisher.ConnectAsync(broker))
            {
                var restarted = Task.CompletedTask;
                for (var i = 0; i < messages.Count; i++)
                {
                    if (kills.Contains(i))
                    {
                        // The previous run must be up (subscribed, receiving the backlog) before it is killed again;
                        // while it restarts, the printers go on publishing and the broker queues for its session.
                        await restarted;
                        await worker.KillAsync();
                        restarted = worker.StartAgainAsync();
                    }

                    await printers.PublishJsonAsync(messages[i].Topic, messages[i].Payload);
                }

                await restarted;
            }

            await ChaosChecks.AssertJobsAsync(services.Influx, database, trace, octoPrint: false, seed);
            await ChaosChecks.AssertSameKpisAsync(services.Influx, database, services.Influx, referenceDatabase, trace, seed);
            Assert.Equal(6, worker.Starts);
            output.WriteLine($"{messages.Count} messages, kills before messages {string.Join(", ", kills)}; " +
                $"{worker.LinesContaining("Restored checkpoint").Count} restarts restored a checkpoint, {worker.LinesContaining("Resuming journal").Count} replayed the journal");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, $"kills before messages {string.Join(", ", kills)}", ex, worker.Output);
        }
    }

    /// <summary>
    /// The reproduction of issue 7: a complete job and the start of another, at QoS 1; the worker is killed with
    /// SIGKILL as soon as the three messages are in its journal on disk — the moment it acknowledges them to the
    /// broker, which will not send them again — and before any checkpoint covers them. After the restart the complete
    /// job has its point, and the second job, finished after the restart, has its full print time (not 0).
    /// </summary>
    [Fact]
    public async Task SIGKILL_right_after_the_acknowledgement_loses_neither_the_complete_job_nor_the_running_start()
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        var printer = "ack-" + id;
        var topic = $"printfarm/{printer}/event";
        await using var broker = await MosquittoServer.StartShippedAsync();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "ack");
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "chaos-ack-" + id);
        settings["PrintFarm__CheckpointInterval"] = "00:10:00"; // only the journal can bring the messages back
        await using var worker = await WorkerProcess.StartAsync(settings);
        var journal = Path.Combine(worker.DataFolder, "journal");
        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            await printers.PublishJsonAsync(topic, new { type = "job_started", ts = "2026-01-05T08:00:00Z", job_id = "J1", file = "dragon_x4.gcode" });
            await printers.PublishJsonAsync(topic, new { type = "job_finished", ts = "2026-01-05T09:00:00Z", job_id = "J1", file = "dragon_x4.gcode", outcome = "completed", filament_g = 40 });
            await printers.PublishJsonAsync(topic, new { type = "job_started", ts = "2026-01-05T09:10:00Z", job_id = "J2", file = "castle.gcode" });
        }

        // Durable is when the journal holds the records; the acknowledgements go out right after the commit.
        await Eventually.Until(() => Task.FromResult(JournalRecords(journal)), n => n >= 3, "three records in the journal", TimeSpan.FromSeconds(30));
        await worker.KillAsync();
        await worker.StartAgainAsync();
        Assert.Empty(worker.LinesContaining("Restored checkpoint"));

        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            await printers.PublishJsonAsync(topic, new { type = "job_finished", ts = "2026-01-05T10:10:00Z", job_id = "J2", file = "castle.gcode", outcome = "completed", filament_g = 20 });
        }

        var jobs = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
            rows => rows.Count >= 2 && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            "both job points",
            describe: rows => rows.Format() + "\n" + worker.Output);
        Assert.Equal(2, jobs.Count);
        var byId = jobs.ToDictionary(r => r.Text("job_id")!);
        Assert.Equal(3600, byId["J1"].Number("print_time_s"), 6);
        Assert.Equal(3600, byId["J2"].Number("print_time_s"), 6);
    }

    // Whole records in the journal's segments (length-prefixed: u32 body length, u32 checksum, body).
    private static int JournalRecords(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var count = 0;
        foreach (var file in Directory.GetFiles(folder, "*.log"))
        {
            var bytes = File.ReadAllBytes(file);
            for (var offset = 0; offset + 8 <= bytes.Length;)
            {
                var length = BitConverter.ToInt32(bytes, offset);
                if (length <= 0 || offset + 8 + length > bytes.Length)
                {
                    break;
                }

                offset += 8 + length;
                count++;
            }
        }

        return count;
    }
}
