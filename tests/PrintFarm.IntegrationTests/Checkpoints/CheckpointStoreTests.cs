using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Checkpoints;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Journal;

namespace PrintFarm.IntegrationTests.Checkpoints;

/// <summary>
/// Issue 18, items 2–4, on the store alone: the kept checkpoints, the fallback to the newest usable one, the refusal when
/// none is and the journal was trimmed, and the data folder's lock. Before: one <c>state.json</c>, moved aside when
/// damaged, and the worker started empty over a journal whose earlier segments were gone.
/// </summary>
public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _root = ServerProcess.NewFolder("checkpoint-store");
    private readonly DataFolders _folders;
    private readonly DataFolderLock _lock;
    private readonly CheckpointStore _store;

    public CheckpointStoreTests()
    {
        _folders = new DataFolders(Options.Create(new PrintFarmOptions { DataFolder = _root }));
        _lock = new DataFolderLock(_folders);
        _store = new CheckpointStore(_folders, _lock, new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero)), NullLogger<CheckpointStore>.Instance);
    }

    [Fact]
    public void Saves_keep_three_checkpoints_and_the_journal_back_to_the_oldest_of_them()
    {
        for (var i = 1; i <= 5; i++)
        {
            var retain = _store.Save(Checkpoint(At(i * 100)));
            Assert.Equal(At(Math.Max(1, i - 2) * 100), retain);
        }

        var files = Directory.GetFiles(_store.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["state-0000000003.json", "state-0000000004.json", "state.json"], files);
        Assert.Equal(At(500), Position(_store.Path));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    public void A_damaged_newest_checkpoint_falls_back_to_the_one_before_it(string damage)
    {
        _store.Save(Checkpoint(At(100)));
        _store.Save(Checkpoint(At(200)));
        _store.Save(Checkpoint(At(300)));
        Damage(_store.Path, damage);

        var (path, position) = _store.Restore(Apply, At(0), _folders.Journal, acceptLoss: false);

        Assert.Equal(Path.Combine(_store.Folder, "state-0000000002.json"), path);
        Assert.Equal(At(200), position);
        Assert.Single(Directory.GetFiles(_store.Folder, "state.json.bad-*"));
    }

    [Fact]
    public void A_checkpoint_of_an_older_version_named_state_json_is_read()
    {
        Directory.CreateDirectory(_store.Folder);
        File.WriteAllText(_store.Path, Checkpoint(At(700)).ToJsonString());

        Assert.Equal((_store.Path, At(700)), _store.Restore(Apply, At(0), _folders.Journal, acceptLoss: false));

        // Its first save keeps it as the previous checkpoint, and the journal it needs.
        Assert.Equal(At(700), _store.Save(Checkpoint(At(800))));
        Assert.Equal(At(700), Position(Path.Combine(_store.Folder, "state-0000000001.json")));
    }

    [Fact]
    public void A_checkpoint_whose_journal_segments_are_gone_is_not_used()
    {
        _store.Save(Checkpoint(At(100, segment: 0)));
        _store.Save(Checkpoint(At(900, segment: 800)));
        Damage(_store.Path, "garbage");

        // The one before needs segment 0, deleted: restoring it would skip the records up to segment 800.
        var refused = Assert.Throws<StartupRefusedException>(() => _store.Restore(Apply, At(800, segment: 800), _folders.Journal, acceptLoss: false));
        Assert.Contains("journal from", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_usable_checkpoint_and_a_trimmed_journal_refuse_to_start_unless_the_loss_is_accepted()
    {
        _store.Save(Checkpoint(At(100, segment: 50)));
        _store.Save(Checkpoint(At(200, segment: 50)));
        Damage(_store.Path, "truncated");
        Damage(Path.Combine(_store.Folder, "state-0000000001.json"), "garbage");

        var refused = Assert.Throws<StartupRefusedException>(() => _store.Restore(Apply, At(50, segment: 50), _folders.Journal, acceptLoss: false));
        Assert.Contains(_store.Folder, refused.Message, StringComparison.Ordinal);
        Assert.Contains("--accept-checkpoint-loss", refused.Message, StringComparison.Ordinal);
        Assert.Contains("PrintFarm__AcceptCheckpointLoss=true", refused.Message, StringComparison.Ordinal);

        // Refused again on the next start (the damaged ones are aside, none is left), until the loss is accepted.
        Assert.Throws<StartupRefusedException>(() => _store.Restore(Apply, At(50, segment: 50), _folders.Journal, acceptLoss: false));
        Assert.Equal((null, null), _store.Restore(Apply, At(50, segment: 50), _folders.Journal, acceptLoss: true));
    }

    [Fact]
    public void No_usable_checkpoint_with_the_whole_journal_rebuilds_from_it()
    {
        _store.Save(Checkpoint(At(100)));
        Damage(_store.Path, "garbage");

        Assert.Equal((null, null), _store.Restore(Apply, At(0), _folders.Journal, acceptLoss: false));
    }

    [Fact]
    public void A_second_lock_on_the_data_folder_is_refused_with_the_holder_s_pid()
    {
        var refused = Assert.Throws<StartupRefusedException>(() => new DataFolderLock(_folders));
        Assert.Contains(_folders.Root, refused.Message, StringComparison.Ordinal);
        Assert.Contains("pid " + Environment.ProcessId, refused.Message, StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessId + "\n", DurableFiles.ReadIgnoringLocks(_lock.Path));

        _lock.Dispose();
        using var again = new DataFolderLock(_folders); // released with its holder
    }

    [Fact]
    public void A_folder_can_be_fsynced()
    {
        DurableFiles.FlushFolder(_root);
        Assert.Throws<IOException>(() => DurableFiles.FlushFolder(Path.Combine(_root, "missing")));
    }

    public void Dispose()
    {
        _lock.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static JournalPosition At(long sequence, long segment = 0) => new(segment, sequence * 10, sequence);

    private static JsonObject Checkpoint(JournalPosition position) => new()
    {
        ["version"] = 1,
        ["saved_at"] = "2026-06-01T08:00:00Z",
        ["jobs"] = new JsonObject(),
        ["journal"] = position.ToJson(),
    };

    // Stands in for the processor: a checkpoint restores when it is a whole document.
    private static JournalPosition? Apply(JsonObject checkpoint) =>
        checkpoint["jobs"] is JsonObject ? JournalPosition.FromJson(checkpoint["journal"]) : throw new InvalidOperationException("no jobs");

    private static JournalPosition? Position(string path) => JournalPosition.FromJson(JsonNode.Parse(File.ReadAllText(path))!["journal"]);

    private static void Damage(string path, string how)
    {
        if (how == "truncated")
        {
            using var file = new FileStream(path, FileMode.Open);
            file.SetLength(file.Length / 2);
        }
        else
        {
            File.WriteAllBytes(path, [0x7b, 0x00, 0xff, 0x13, 0x37, 0x22]);
        }
    }
}
