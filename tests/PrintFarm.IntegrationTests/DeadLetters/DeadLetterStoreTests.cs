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

    private DeadLetterStore CreateSut()
    {
        var options = Options.Create(new PrintFarmOptions { DataFolder = _root });
        var metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        return new DeadLetterStore(new DataFolders(options), new FakeTimeProvider(Now), metrics, NullLogger<DeadLetterStore>.Instance);
    }
}
