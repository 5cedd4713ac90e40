using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Chaos test 3 of issue 7: InfluxDB killed (SIGKILL) at a random moment of a QoS 1 stream and started again later on
/// the same port and data folder; the worker is a real process. Every point arrives, none is counted twice: the
/// final <c>kpi</c> points equal those of the in-process reference writing to the shared, undisturbed InfluxDB.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxOutageChaosTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task InfluxDB_killed_and_restarted_mid_stream_ends_with_every_point_counted_once()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var random = new Random(seed);
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("i" + id, random, printers: 10, jobsPerPrinter: 6);
        var messages = trace.NativeMessages();
        var moments = ChaosTrace.Moments(random, 2, messages.Count);
        var (down, up) = (moments[0], moments[1]);

        await using var influx = await InfluxDbServer.StartAsync();
        var database = await ChaosChecks.NewDatabaseAsync(influx, "outage");
        var referenceDatabase = await ChaosChecks.NewDatabaseAsync(services.Influx, "outage_ref");
        await using var reference = await ChaosChecks.StartReferenceAsync(services.Mqtt, services.Influx, referenceDatabase);
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(services.Mqtt, influx.Url, database, "chaos-influx-" + id));
        try
        {
            await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                for (var i = 0; i < messages.Count; i++)
                {
                    if (i == down)
                    {
                        await influx.KillAsync();
                    }
                    else if (i == up)
                    {
                        // Only once the worker has met the outage: a batch failed and went to its spool.
                        await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n > 0, $"a spooled batch (seed {seed})");
                        await influx.StartAgainAsync();
                    }

                    await printers.PublishJsonAsync(messages[i].Topic, messages[i].Payload);
                }
            }

            await ChaosChecks.AssertJobsAsync(influx, database, trace, octoPrint: false, seed);
            await ChaosChecks.AssertSameKpisAsync(influx, database, services.Influx, referenceDatabase, trace, seed);
            await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n == 0, $"an empty spool (seed {seed})");
            await Eventually.Until(() => Task.FromResult(worker.LinesContaining("InfluxDB reachable again")), l => l.Count > 0, $"the worker's recovery log line (seed {seed})");
            Assert.Equal(1, worker.Starts);
            output.WriteLine($"{messages.Count} messages; InfluxDB down before message {down}, up before message {up}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, $"InfluxDB killed before message {down}, started again before message {up}", ex, worker.Output);
        }
    }
}
