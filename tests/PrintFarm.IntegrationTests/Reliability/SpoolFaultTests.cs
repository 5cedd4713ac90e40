using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Chaos tests 5 and 6 of issue 7: the InfluxDB spool unusable, or one spooled batch unreadable, while InfluxDB is
/// down. Tests run as root here, where <c>chmod</c> does not stop writes, so the faults are made by replacing a path
/// with something of the other kind: the spool folder with a regular file (creating a batch in it fails with
/// "Not a directory"), a spooled batch with a directory (reading it fails). The tests that assert on counters run the
/// worker in-process (<see cref="WorkerHost"/>: its meter is read directly); the SIGKILL one runs it as a process.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SpoolFaultTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task An_unusable_spool_while_InfluxDB_is_down_is_logged_and_counted_and_loses_nothing_once_both_are_back()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var trace = new ChaosTrace("s" + Guid.NewGuid().ToString("N")[..6], new Random(seed), printers: 5, jobsPerPrinter: 4);
        var messages = trace.NativeMessages();
        var influxPort = ServerProcess.FreePort(); // nothing listens there until InfluxDB comes back
        var database = "spoolfault_" + Guid.NewGuid().ToString("N")[..10];
        await using var worker = await WorkerHost.StartAsync(InProcessSettings(influxPort, database));
        var spool = Path.Combine(worker.DataFolder, "spool");
        Directory.Delete(spool, recursive: true);
        await File.WriteAllTextAsync(spool, "not a folder: chaos test 5");

        await ChaosChecks.PublishAsync(services.Mqtt, messages.Take(messages.Count / 2));
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.influx.spool.failures")), n => n > 0, "a counted spool failure");
        // The line follows the count: poll for it too.
        var errors = await Eventually.Until(
            () => Task.FromResult(worker.Logs.AtLeast(LogLevel.Error).Where(l => l.Contains("Writing to the InfluxDB spool", StringComparison.Ordinal)).ToList()),
            l => l.Count > 0,
            "the spool failure's error line");
        var error = Assert.Single(errors);
        Assert.Contains(spool, error, StringComparison.Ordinal);
        Assert.True(ChaosChecks.AllRunning(worker), "a hosted service stopped during the spool fault");

        // More traffic during the fault: the journal takes it while the writer holds its batch.
        await ChaosChecks.PublishAsync(services.Mqtt, messages.Skip(messages.Count / 2));
        File.Delete(spool);
        Directory.CreateDirectory(spool);
        await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n > 0, "the held batch to reach the spool once it is usable");
        Assert.True(ChaosChecks.AllRunning(worker), "a hosted service stopped during the spool fault");

        await using var influx = await InfluxDbServer.StartAsync(influxPort);
        await influx.CreateDatabaseAsync(database);
        await ChaosChecks.AssertJobsAsync(influx, database, trace, octoPrint: false, seed);
        await ChaosChecks.AssertFarmDayAsync(influx, database, trace, seed);
        await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n == 0, "an empty spool");
        Assert.True(ChaosChecks.AllRunning(worker), "a hosted service stopped");
    }

    [Fact]
    public async Task A_SIGKILL_while_the_spool_is_unusable_and_InfluxDB_down_loses_nothing()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var random = new Random(seed);
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("sk" + id, random, printers: 5, jobsPerPrinter: 4);
        var messages = trace.NativeMessages();
        var (first, second) = (messages.Count / 3, messages.Count * 2 / 3);
        var influxPort = ServerProcess.FreePort();
        var database = "spoolkill_" + Guid.NewGuid().ToString("N")[..10];
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(services.Mqtt, $"http://127.0.0.1:{influxPort}", database, "chaos-spool-" + id));
        var spool = Path.Combine(worker.DataFolder, "spool");
        try
        {
            Directory.Delete(spool, recursive: true);
            await File.WriteAllTextAsync(spool, "not a folder: chaos test 5");
            await ChaosChecks.PublishAsync(services.Mqtt, messages.Take(first));
            await Eventually.Until(() => Task.FromResult(worker.LinesContaining("Writing to the InfluxDB spool")), l => l.Count > 0, "the spool failure's log line");
            Assert.True(worker.IsRunning, "the worker exited during the spool fault");

            // Killed while its lines are neither in InfluxDB nor in the spool: only the journal has their messages.
            await worker.KillAsync();
            await worker.StartAgainAsync();
            await ChaosChecks.PublishAsync(services.Mqtt, messages.Take(second).Skip(first));
            File.Delete(spool);
            Directory.CreateDirectory(spool);
            await using var influx = await InfluxDbServer.StartAsync(influxPort);
            await influx.CreateDatabaseAsync(database);
            await ChaosChecks.PublishAsync(services.Mqtt, messages.Skip(second));

            await ChaosChecks.AssertJobsAsync(influx, database, trace, octoPrint: false, seed);
            await ChaosChecks.AssertFarmDayAsync(influx, database, trace, seed);
            Assert.True(worker.IsRunning, "the worker exited");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, "spool replaced by a file, worker killed and restarted", ex, worker.Output);
        }
    }

    [Fact]
    public async Task An_IO_fault_in_the_spool_replay_loop_is_logged_and_counted_and_replay_resumes_once_it_is_removed()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var trace = new ChaosTrace("r" + Guid.NewGuid().ToString("N")[..6], new Random(seed), printers: 5, jobsPerPrinter: 4);
        var messages = trace.NativeMessages();
        var influxPort = ServerProcess.FreePort();
        var database = "replayfault_" + Guid.NewGuid().ToString("N")[..10];
        await using var worker = await WorkerHost.StartAsync(InProcessSettings(influxPort, database));
        var spool = Path.Combine(worker.DataFolder, "spool");

        // Three thirds of the trace, each spooled while InfluxDB is down: at least three batches on disk.
        for (var third = 1; third <= 3; third++)
        {
            await ChaosChecks.PublishAsync(services.Mqtt, messages.Take(messages.Count * third / 3).Skip(messages.Count * (third - 1) / 3));
            var atLeast = third;
            await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n >= atLeast, $"{third} spooled batches");
        }

        // The second-oldest batch becomes a directory: the oldest can still be replayed, the rest wait behind the fault.
        var batches = Directory.GetFiles(spool, "*.lp").Order(StringComparer.Ordinal).ToList();
        var (oldest, victim) = (batches[0], batches[1]);
        var saved = Path.Combine(worker.DataFolder, Path.GetFileName(victim) + ".saved");
        File.Move(victim, saved);
        Directory.CreateDirectory(victim);

        await using var influx = await InfluxDbServer.StartAsync(influxPort);
        await influx.CreateDatabaseAsync(database);
        var failures = await Eventually.Until(
            () => Task.FromResult(worker.Counter("printfarm.loop.failures[loop=spool-replay]")), n => n > 0, "a counted failure of the spool replay loop");
        await Eventually.Until(
            () => Task.FromResult(worker.Logs.AtLeast(LogLevel.Error).Count(l => l.Contains("The spool replay loop failed", StringComparison.Ordinal))),
            n => n > 0,
            "the replay loop's error line");
        Assert.False(File.Exists(oldest), "the oldest batch, before the fault, was not replayed");
        Assert.True(Directory.Exists(victim));

        // Still failing, pass after pass, while the fault lasts; then removed right after a failed pass.
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.loop.failures[loop=spool-replay]")), n => n > failures, "the replay loop to try again");
        Directory.Delete(victim);
        File.Move(saved, victim);

        await ChaosChecks.AssertJobsAsync(influx, database, trace, octoPrint: false, seed);
        await ChaosChecks.AssertFarmDayAsync(influx, database, trace, seed);
        await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n == 0, "every spooled batch replayed");
        Assert.True(ChaosChecks.AllRunning(worker), "a hosted service stopped");
    }

    private Dictionary<string, string?> InProcessSettings(int influxPort, string database)
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = $"http://127.0.0.1:{influxPort}";
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Influx:Timeout"] = "00:00:02";
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.5";
        return settings;
    }
}
