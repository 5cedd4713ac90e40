using System.Text.Json.Nodes;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18, items 2 and 4, with the worker as a process: a damaged newest checkpoint after a SIGKILL costs nothing
/// (the previous one and the journal it needs were kept), and a second worker on the same data folder is refused.
/// Before: the truncated <c>state.json</c> was moved aside, the worker started empty over a journal whose earlier
/// segments were deleted, and the replay overwrote the day's farm KPIs (200 → 13 jobs); a second worker appended to
/// and deleted the same journal.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class CheckpointDamageTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task A_second_worker_on_the_same_data_folder_exits_2_naming_the_folder_and_the_first_worker_s_pid()
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "lock");
        var settings = WorkerProcess.Settings(services.Mqtt, services.Influx.Url, database, "lock-a-" + id);
        await using var first = await WorkerProcess.StartAsync(settings);

        var second = new Dictionary<string, string>(settings, StringComparer.Ordinal) { ["PrintFarm__Mqtt__ClientId"] = "lock-b-" + id };
        var (exitCode, text) = await WorkerProcess.RunToExitAsync(second);

        output.WriteLine(text);
        Assert.Equal(2, exitCode);
        Assert.Contains($"The data folder {first.DataFolder} is in use by another process (pid {first.ProcessId})", text, StringComparison.Ordinal);
        Assert.True(first.IsRunning, "the first worker goes on");
        // As postmaster.pid: the holder's pid, readable (cat) although .NET's own File API honours the lock.
        Assert.Equal(first.ProcessId + "\n", PrintFarm.Worker.Hosting.DurableFiles.ReadIgnoringLocks(Path.Combine(first.DataFolder, "worker.lock")));
    }

    [Fact]
    public async Task A_truncated_newest_checkpoint_after_a_SIGKILL_falls_back_to_the_previous_one_and_the_day_s_KPIs_stay()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("ck" + id, new Random(seed), printers: 10, jobsPerPrinter: 10);
        var messages = trace.NativeMessages();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "ckdamage");
        var settings = WorkerProcess.Settings(services.Mqtt, services.Influx.Url, database, "ck-damage-" + id);
        settings["PrintFarm__Journal__SegmentBytes"] = "4096"; // many segments, so checkpoints delete some
        await using var worker = await WorkerProcess.StartAsync(settings);
        var state = Path.Combine(worker.DataFolder, "checkpoint", "state.json");
        var journal = Path.Combine(worker.DataFolder, "journal");

        await ChaosChecks.PublishAsync(services.Mqtt, messages);
        await ChaosChecks.AssertFarmDayAsync(services.Influx, database, trace, seed);

        // A checkpoint taken after every message was processed, segments before the kept ones deleted.
        var since = DateTimeOffset.UtcNow;
        var covered = await Eventually.Until(
            () => Task.FromResult(Checkpoint(state)),
            c => c is { } x && x.SavedAt > since
                && File.Exists(Path.Combine(Path.GetDirectoryName(state)!, "state-0000000002.json"))
                && !File.Exists(Path.Combine(journal, 0L.ToString("D20") + ".log")),
            "a checkpoint saved after the whole trace was processed, two before it, the first journal segment deleted",
            describe: c => $"{c}; segments {string.Join(", ", Directory.GetFiles(journal).Select(Path.GetFileName))}\n{worker.Output}");

        await worker.KillAsync();
        using (var file = new FileStream(state, FileMode.Open))
        {
            file.SetLength(file.Length / 2);
        }

        var restart = DateTimeOffset.UtcNow;
        await worker.StartAgainAsync();
        Assert.Contains(worker.Lines, l => l.Contains("Restored the older checkpoint", StringComparison.Ordinal));

        // A checkpoint of the restarted run that covers the whole replay: its lines are in InfluxDB (the checkpoint
        // barrier), so the day's farm point holds what the replay wrote.
        await Eventually.Until(
            () => Task.FromResult(Checkpoint(state)),
            c => c is { } x && x.SavedAt > restart && x.Sequence >= covered!.Value.Sequence,
            "a checkpoint of the restarted run covering the replay",
            describe: c => $"{c}\n{worker.Output}");
        await ChaosChecks.AssertFarmDayAsync(services.Influx, database, trace, seed);
        await ChaosChecks.AssertJobsAsync(services.Influx, database, trace, octoPrint: false, seed);
    }

    private static (DateTimeOffset SavedAt, long Sequence)? Checkpoint(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var node = JsonNode.Parse(File.ReadAllText(path));
        return node?["saved_at"] is { } saved && node["journal"]?["sequence"] is { } sequence
            ? (DateTimeOffset.Parse(saved.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), sequence.GetValue<long>())
            : null;
    }
}
