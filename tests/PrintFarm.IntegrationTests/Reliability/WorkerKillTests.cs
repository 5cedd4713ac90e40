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
                $"{worker.LinesContaining("Restored checkpoint").Count} restarts restored a checkpoint, {worker.LinesContaining("Journal: resuming").Count} replayed the journal");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, $"kills before messages {string.Join(", ", kills)}", ex, worker.Output);
        }
    }
}
