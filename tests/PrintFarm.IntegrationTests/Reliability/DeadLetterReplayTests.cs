using System.Text;
using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18 item 7: dead letters across a SIGKILL replay. Worker as a process, its own Mosquitto, real InfluxDB, no
/// checkpoint after start: three junk messages are dead-lettered, the worker is killed, and the restart replays them
/// from the journal. Before: the replay wrote them again (6 identical lines); now each dead letter carries its journal
/// sequence and is written once.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class DeadLetterReplayTests(ServicesFixture services)
{
    [Fact]
    public async Task A_replay_after_SIGKILL_writes_each_dead_letter_once()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "dlkill_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "dl-kill-" + id);
        settings["PrintFarm__CheckpointInterval"] = "00:10:00"; // no checkpoint before the kill: the restart replays all
        var topic = NativeTrace.Topic("junk-" + id);

        await using var worker = await WorkerProcess.StartAsync(settings);
        await using (var publisher = await TestPublisher.ConnectAsync(broker))
        {
            for (var i = 0; i < 3; i++)
            {
                await publisher.PublishAsync(topic, Encoding.UTF8.GetBytes($"junk {i}"));
            }
        }

        var first = await LettersAsync(worker, 3);
        Assert.Equal(["junk 0", "junk 1", "junk 2"], first.Select(Payload));

        await worker.KillAsync();
        await worker.StartAgainAsync();
        await using (var publisher = await TestPublisher.ConnectAsync(broker))
        {
            // Journaled after the replayed ones: once its dead letter is there, any replayed duplicate would be too.
            await publisher.PublishAsync(topic, Encoding.UTF8.GetBytes("junk 3"));
        }

        var letters = await LettersAsync(worker, 4);
        Assert.Equal(["junk 0", "junk 1", "junk 2", "junk 3"], letters.Select(Payload));
        var sequences = letters.Select(l => l.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(sequences.Order().Distinct(), sequences);
        Assert.NotEmpty(worker.LinesContaining("already kept"));
    }

    private static string Payload(JsonElement letter) => Encoding.UTF8.GetString(letter.GetProperty("payload_base64").GetBytesFromBase64());

    private static Task<List<JsonElement>> LettersAsync(WorkerProcess worker, int count) => Eventually.Until(
        () => Task.FromResult(ReadLetters(worker.DataFolder)),
        letters => letters.Count >= count,
        $"{count} dead letters",
        describe: letters => string.Join("\n", letters.Select(l => l.ToString())) + "\n" + worker.Output);

    private static List<JsonElement> ReadLetters(string dataFolder)
    {
        var folder = Path.Combine(dataFolder, "deadletter");
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.GetFiles(folder, "messages-*.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadAllLines)
            .Where(l => l.EndsWith('}'))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToList();
    }
}
