using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.IntegrationTests.DeadLetters;

/// <summary>The dead-letter store on its own: journal sequences, replays, a partial last line (issue 18 item 7).</summary>
public sealed class DeadLetterStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
    private readonly string _root = ServerProcess.NewFolder("deadletter-store");
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private string Folder => Path.Combine(_root, "deadletter");

    [Fact]
    public async Task A_replay_skips_what_is_kept_and_writes_what_a_crash_cut_short()
    {
        await using (var first = CreateSut())
        {
            first.ReplayBefore(0);
            for (var sequence = 5; sequence < 8; sequence++)
            {
                await WriteAsync(first, sequence);
            }

            await first.FlushAsync(CancellationToken.None);
        }

        // A crash in the middle of the next line's write.
        var path = Assert.Single(Directory.GetFiles(Folder));
        await File.AppendAllTextAsync(path, "{\"sequence\":8,\"received_at\":\"2026-03-");

        await using (var restarted = CreateSut())
        {
            restarted.ReplayBefore(9); // records 0..8 were durable in the journal at start: 5..8 are replayed
            for (var sequence = 5; sequence < 10; sequence++)
            {
                await WriteAsync(restarted, sequence);
            }

            await restarted.FlushAsync(CancellationToken.None);
        }

        Assert.Equal([5L, 6, 7, 8, 9], Sequences());
    }

    [Fact]
    public async Task A_journal_started_afresh_does_not_hide_new_dead_letters_behind_old_sequences()
    {
        await using (var first = CreateSut())
        {
            first.ReplayBefore(0);
            await WriteAsync(first, 40);
            await first.FlushAsync(CancellationToken.None);
        }

        await using (var restarted = CreateSut())
        {
            restarted.ReplayBefore(0); // the journal folder was removed: sequences start again at 0, nothing is a replay
            await WriteAsync(restarted, 0);
            await WriteAsync(restarted, 1);
            await restarted.FlushAsync(CancellationToken.None);
        }

        Assert.Equal([40L, 0, 1], Sequences());
    }

    [Fact]
    public async Task Beyond_the_byte_budget_dead_letters_are_refused_and_the_oldest_are_kept()
    {
        await using (var store = CreateSut(new PrintFarmOptions { DataFolder = _root, DeadLetterMaxBytes = 65536 }))
        {
            store.ReplayBefore(0);
            for (var sequence = 0; sequence < 100; sequence++)
            {
                await store.WriteAsync(sequence, "printfarm/p1/events", new byte[1000], false, Now, "invalid_json", "not json");
            }

            await store.FlushAsync(CancellationToken.None);
        }

        var kept = Sequences();
        Assert.InRange(new FileInfo(Assert.Single(Directory.GetFiles(Folder))).Length, 60_000, 65536);
        Assert.Equal(Enumerable.Range(0, kept.Count).Select(i => (long)i), kept); // refusal: the first ones stay

        // The budget holds across a restart (the kept bytes are counted at start).
        await using (var restarted = CreateSut(new PrintFarmOptions { DataFolder = _root, DeadLetterMaxBytes = 65536 }))
        {
            restarted.ReplayBefore(0);
            await restarted.WriteAsync(100, "printfarm/p1/events", new byte[1000], false, Now, "invalid_json", "not json");
            await restarted.FlushAsync(CancellationToken.None);
        }

        Assert.Equal(kept, Sequences());
    }

    [Fact]
    public async Task Batches_InfluxDB_rejected_count_against_the_same_budget_as_the_messages_also_after_a_restart()
    {
        // 20 batches of ~5 KB against a 64 KiB budget: the first ones are kept, then the files stop (no rotation).
        var batch = Enumerable.Range(0, 50).Select(i => $"kpi,farm=f,scope=farm,window=1h bad=\"{new string('x', 80)}\" {i}").ToList();
        var kept = new List<string>();
        await using (var store = CreateSut(new PrintFarmOptions { DataFolder = _root, DeadLetterMaxBytes = 65536 }))
        {
            for (var i = 0; i < 20; i++)
            {
                if (store.WriteRejectedBatch(batch, "400", "field type conflict") is { } path)
                {
                    kept.Add(path);
                }
            }
        }

        Assert.InRange(kept.Count, 1, 19);
        Assert.Equal(kept.Order(StringComparer.Ordinal), Directory.GetFiles(Folder, "influx-rejected-*.lp").Order(StringComparer.Ordinal));
        Assert.InRange(Directory.GetFiles(Folder).Sum(f => new FileInfo(f).Length), 60_000, 65536);

        // After a restart the kept batches are counted: a message no longer fits either.
        await using (var restarted = CreateSut(new PrintFarmOptions { DataFolder = _root, DeadLetterMaxBytes = 65536 }))
        {
            restarted.ReplayBefore(0);
            await restarted.WriteAsync(1, "printfarm/p1/events", new byte[6000], false, Now, "invalid_json", "not json");
            await restarted.FlushAsync(CancellationToken.None);
            Assert.Null(restarted.WriteRejectedBatch(batch, "400", "field type conflict"));
        }

        Assert.Empty(Directory.GetFiles(Folder, "messages-*.jsonl"));
        Assert.Equal(kept.Count, Directory.GetFiles(Folder, "influx-rejected-*.lp").Length);
    }

    [Fact]
    public async Task A_line_that_would_eat_into_the_disk_reserve_is_refused()
    {
        var free = new DriveInfo(_root).AvailableFreeSpace;
        await using (var store = CreateSut(new PrintFarmOptions { DataFolder = _root, DeadLetterDiskReserveBytes = free + (1L << 30) }))
        {
            store.ReplayBefore(0);
            await WriteAsync(store, 1);
            await store.FlushAsync(CancellationToken.None);
        }

        Assert.Empty(Directory.GetFiles(Folder));
    }

    public void Dispose()
    {
        _services.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static ValueTask WriteAsync(DeadLetterStore store, long sequence) =>
        store.WriteAsync(sequence, "printfarm/p1/events", Encoding.UTF8.GetBytes($"junk {sequence}"), false, Now, "invalid_json", "not json");

    private List<long> Sequences() => File.ReadAllLines(Assert.Single(Directory.GetFiles(Folder)))
        .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("sequence").GetInt64())
        .ToList();

    private DeadLetterStore CreateSut(PrintFarmOptions? settings = null)
    {
        var options = Options.Create(settings ?? new PrintFarmOptions { DataFolder = _root });
        var metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        return new DeadLetterStore(new DataFolders(options), new FakeTimeProvider(Now), metrics, NullLogger<DeadLetterStore>.Instance, options);
    }
}
