using System.Diagnostics;
using System.Globalization;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>
/// The clustered mode when a worker dies or freezes (issue 20, tests 2 and 6): two workers as real processes share 8
/// partitions of a real 3-node nats-server cluster through leases of 3 s, writing to a real InfluxDB.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ClusterFailoverTests(ServicesFixture services, ClusterModeFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterModeFixture>
{
    private const int Split = 6; // per trace: job A and its redelivered finish before the failure, B, C and D after it

    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_SIGKILLed_workers_partitions_move_to_the_other_within_the_lease_time_and_nothing_is_lost_or_counted_twice()
    {
        var run = await StartPairAsync("kill");
        try
        {
            await using var a = run.A;
            await using var b = run.B;
            await PublishFirstHalfAsync(run);

            await b.KillAsync();
            var killed = Stopwatch.StartNew();
            var publishing = ClusterPublisher.PublishAsync(Cluster, run.Traces.SelectMany(t => t.Messages().Skip(Split)));
            await WaitForOwnersAsync(run, "w-a", 8);
            var takeover = killed.Elapsed;
            await publishing;

            await AssertEveryJobOnceAsync(run);
            output.WriteLine($"takeover of 4 partitions after SIGKILL: {takeover.TotalSeconds:F1} s (lease 3 s)");
            Assert.True(takeover < TimeSpan.FromSeconds(15), $"takeover took {takeover}");
        }
        finally
        {
            await run.Names.DeleteAsync(Cluster);
        }
    }

    [Fact]
    public async Task A_paused_owner_that_resumes_after_its_leases_ran_out_writes_nothing_for_the_partitions_it_lost()
    {
        var run = await StartPairAsync("pause");
        try
        {
            await using var a = run.A;
            await using var b = run.B;
            await PublishFirstHalfAsync(run);

            Signals.Pause(b.ProcessId);
            try
            {
                await WaitForOwnersAsync(run, "w-a", 8);
                await ClusterPublisher.PublishAsync(Cluster, run.Traces.SelectMany(t => t.Messages().Skip(Split)));
                await AssertEveryJobOnceAsync(run);
            }
            finally
            {
                Signals.Resume(b.ProcessId);
            }

            // Resumed, it finds its leases expired by its own clock and stops those partitions without writing.
            await Eventually.Until(
                () => Task.FromResult(b.LinesContaining("no longer owns").Count),
                n => n >= 1,
                "the resumed worker to stop the partitions it lost",
                TimeSpan.FromSeconds(30),
                describe: _ => b.Output);
            // Had it written its old state, the printers' days would have gone back; they are still exact.
            await AssertEveryJobOnceAsync(run);
            await WaitForOwnersAsync(run, "w-a", 4); // and it rejoined: the partitions are shared again
        }
        finally
        {
            await run.Names.DeleteAsync(Cluster);
        }
    }

    private async Task<Run> StartPairAsync(string test)
    {
        var names = Names.New(test);
        var database = $"cluster_{test}_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var traces = Enumerable.Range(0, 6)
            .Select(i => new NativeTrace(test[..1] + i.ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..4], new DateTimeOffset(2026, 6, 2, 0, 0, 0, TimeSpan.Zero)))
            .ToList();
        var a = await WorkerProcess.StartAsync(Settings(names, database, "w-a"));
        var b = await WorkerProcess.StartAsync(Settings(names, database, "w-b"));
        var run = new Run(names, database, traces, a, b);
        await WaitForOwnersAsync(run, "w-a", 4);
        await WaitForOwnersAsync(run, "w-b", 4);
        return run;
    }

    private async Task PublishFirstHalfAsync(Run run)
    {
        await ClusterPublisher.PublishAsync(Cluster, run.Traces.SelectMany(t => t.Messages().Take(Split)));
        await Eventually.Until(
            () => services.Influx.QueryAsync(run.Database, "SELECT * FROM job"),
            rows => rows.Count == run.Traces.Count,
            "job A of every trace",
            TimeSpan.FromSeconds(60),
            describe: rows => rows.Format());
    }

    private Task AssertEveryJobOnceAsync(Run run) =>
        ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, run.Database, run.Traces.SelectMany(t => t.Jobs).ToList());

    // The lease bucket says who owns what.
    private async Task WaitForOwnersAsync(Run run, string worker, int partitions)
    {
        await Eventually.Until(
            async () =>
            {
                await using var nats = await Cluster.ConnectAsync(name: "printfarm-tests-leases");
                var kv = new NatsKVContext(new NatsJSContext(nats));
                try
                {
                    var bucket = await kv.GetStoreAsync(run.Names.Bucket + "_leases");
                    var owners = new List<string>();
                    await foreach (var key in bucket.GetKeysAsync())
                    {
                        if (key.StartsWith('p'))
                        {
                            owners.Add((await bucket.GetEntryAsync<string>(key)).Value ?? "");
                        }
                    }

                    return owners.Count(o => o == worker);
                }
                catch (NatsKVException)
                {
                    return 0;
                }
            },
            n => n == partitions,
            $"{worker} to own {partitions} partitions",
            TimeSpan.FromSeconds(30),
            describe: n => $"{n}; a: {run.A.Output}\nb: {run.B.Output}");
    }

    private Dictionary<string, string> Settings(Names names, string database, string worker)
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
        return settings;
    }

    private sealed record Run(Names Names, string Database, List<NativeTrace> Traces, WorkerProcess A, WorkerProcess B);
}
