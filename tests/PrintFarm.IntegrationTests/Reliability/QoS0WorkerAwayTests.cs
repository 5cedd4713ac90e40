using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Chaos test 2 of issue 7: OctoPrint-format traffic at QoS 0 (the plugin's default) through a broker configured as
/// shipped (<c>queue_qos0_messages true</c>), the worker — a real process — away for a while in the middle, stopped
/// gracefully (SIGTERM) or killed (SIGKILL). Nothing published while it was away may be missing. The reference is the
/// in-process worker host on the same broker, never stopped (see <see cref="WorkerKillTests"/>).
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class QoS0WorkerAwayTests(ServicesFixture services, ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OctoPrint_QoS_0_messages_published_while_the_worker_is_away_all_arrive(bool kill)
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var random = new Random(seed);
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("q" + id, random, printers: 20, jobsPerPrinter: 10);
        var messages = trace.OctoPrintMessages();
        // Away from just after a job's end (so everything before it is known to be processed: QoS 0 messages still
        // in the socket when a process is killed are gone by definition) until a later random message.
        var leave = random.Next(messages.Count * 3 / 10, messages.Count / 2);
        while (messages[leave - 1].Ends is null)
        {
            leave++;
        }

        var back = random.Next(leave + messages.Count / 10, messages.Count * 8 / 10);
        var endedBeforeLeaving = messages.Take(leave).Count(m => m.Ends is not null);

        await using var broker = await MosquittoServer.StartShippedAsync();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "qos0");
        var referenceDatabase = await ChaosChecks.NewDatabaseAsync(services.Influx, "qos0_ref");
        await using var reference = await ChaosChecks.StartReferenceAsync(broker, services.Influx, referenceDatabase);
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(broker, services.Influx.Url, database, "chaos-qos0-" + id));
        try
        {
            await ChaosChecks.PublishAsync(broker, messages.Take(leave), qos0: true);
            await ChaosChecks.WaitForJobsAsync(services.Influx, database, endedBeforeLeaving, $"the {endedBeforeLeaving} jobs ended before the worker leaves (seed {seed})");
            if (kill)
            {
                await worker.KillAsync();
            }
            else
            {
                Assert.Equal(0, await worker.StopAsync());
            }

            await ChaosChecks.PublishAsync(broker, messages.Take(back).Skip(leave), qos0: true);
            await worker.StartAgainAsync();
            await ChaosChecks.PublishAsync(broker, messages.Skip(back), qos0: true);

            await ChaosChecks.AssertJobsAsync(services.Influx, database, trace, octoPrint: true, seed);
            await ChaosChecks.AssertSameKpisAsync(services.Influx, database, services.Influx, referenceDatabase, trace, seed);
            output.WriteLine($"{messages.Count} messages; away ({(kill ? "SIGKILL" : "SIGTERM")}) for messages {leave} to {back - 1}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, $"worker {(kill ? "killed" : "stopped")} before message {leave}, back before message {back}", ex, worker.Output);
        }
    }
}
