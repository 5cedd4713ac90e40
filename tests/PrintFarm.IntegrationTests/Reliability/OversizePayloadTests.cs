using System.Globalization;
using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18 item 11: oversize payloads. Worker as a process, its own Mosquitto, real InfluxDB, <c>MaxPayloadBytes</c>
/// 1 MiB. Before: three 50 MiB publishes took RSS from 91 to 1,040 MB, 157 MB of journal and 210 MB of dead letters
/// (the whole payloads, base64). Now the worker's reader skips an oversize PUBLISH on the socket, and the journal and
/// the dead letters keep only its topic, size and receive time.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OversizePayloadTests(ServicesFixture services)
{
    private const int Payload = 24 * 1024 * 1024;

    [Theory]
    [InlineData("3.1.1", Payload)]
    [InlineData("5", Payload)]
    [InlineData("5", 1024 * 1024 + 4096)]
    public async Task Oversize_payloads_are_skipped_on_the_socket_and_kept_as_metadata_only(string protocol, int size)
    {
        await using var broker = await MosquittoServer.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "oversize_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "oversize-" + id);
        settings["PrintFarm__Mqtt__ProtocolVersion"] = protocol;
        settings["PrintFarm__MaxPayloadBytes"] = "1048576";
        var topic = NativeTrace.Topic("big-" + id);

        await using var worker = await WorkerProcess.StartAsync(settings);
        var payload = new byte[size];
        Array.Fill(payload, (byte)'{');
        long peakBefore;
        await using (var publisher = await TestPublisher.ConnectAsync(broker))
        {
            // A junk message first, dead-lettered like the rest: the worker's first message through the pipeline (code
            // loaded and compiled, buffers sized) is then behind the baseline, which measures the big payloads only.
            await publisher.PublishAsync(topic, "warm-up"u8.ToArray());
            await Eventually.Until(() => Task.FromResult(ReadLetters(worker.DataFolder)), l => l.Count >= 1, "the warm-up's dead letter", describe: _ => worker.Output);
            peakBefore = PeakRss(worker.ProcessId);
            for (var i = 0; i < 3; i++)
            {
                await publisher.PublishAsync(topic, payload);
            }

            await publisher.PublishAsync(topic, "after"u8.ToArray()); // an ordinary (junk) message after them
        }

        var letters = await Eventually.Until(
            () => Task.FromResult(ReadLetters(worker.DataFolder)),
            l => l.Count >= 5,
            "5 dead letters",
            describe: l => string.Join("\n", l.Select(x => x.ToString())) + "\n" + worker.Output);

        Assert.Equal(5, letters.Count);
        Assert.Equal("warm-up", System.Text.Encoding.UTF8.GetString(letters[0].GetProperty("payload_base64").GetBytesFromBase64()));
        foreach (var letter in letters.Skip(1).Take(3))
        {
            Assert.Equal("oversize", letter.GetProperty("reason").GetString());
            Assert.Equal(topic, letter.GetProperty("topic").GetString());
            Assert.Equal(size, letter.GetProperty("size").GetInt64());
            Assert.False(letter.TryGetProperty("payload_base64", out _));
            Assert.False(letter.GetProperty("payload_kept").GetBoolean());
        }

        Assert.Equal("after", System.Text.Encoding.UTF8.GetString(letters[4].GetProperty("payload_base64").GetBytesFromBase64()));

        // Nothing of the payloads on disk, and the process never held one whole.
        Assert.True(FolderBytes(Path.Combine(worker.DataFolder, "journal")) < 64 * 1024, "journal: " + FolderBytes(Path.Combine(worker.DataFolder, "journal")));
        Assert.True(FolderBytes(Path.Combine(worker.DataFolder, "deadletter")) < 16 * 1024);
        if (size >= Payload)
        {
            var grown = PeakRss(worker.ProcessId) - peakBefore;
            Assert.True(grown < size / 2, $"peak RSS grew by {grown / 1024} KiB for payloads of {size / 1024} KiB");
        }

        Assert.NotEmpty(worker.LinesContaining("oversize"));
    }

    [Fact]
    public async Task With_a_Maximum_Packet_Size_the_broker_discards_a_larger_packet_and_the_worker_never_sees_it()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var database = "oversize_mps_" + id;
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "oversize-mps-" + id);
        settings["PrintFarm__MaxPayloadBytes"] = "1048576";
        settings["PrintFarm__Mqtt__MaximumPacketSize"] = (1048576 + (128 * 1024)).ToString(CultureInfo.InvariantCulture);
        var topic = NativeTrace.Topic("big-" + id);

        await using var worker = await WorkerProcess.StartAsync(settings);
        await using (var publisher = await TestPublisher.ConnectAsync(broker))
        {
            await publisher.PublishAsync(topic, new byte[2 * 1024 * 1024]);
            await publisher.PublishAsync(topic, "after"u8.ToArray());
        }

        // The message after it arrives; the large one was dropped at the broker (not counted or kept by the worker: the
        // documented cost of the setting).
        var letters = await Eventually.Until(() => Task.FromResult(ReadLetters(worker.DataFolder)), l => l.Count >= 1, "the dead letter after it");
        Assert.Equal("after", System.Text.Encoding.UTF8.GetString(Assert.Single(letters).GetProperty("payload_base64").GetBytesFromBase64()));
    }

    private static long PeakRss(int pid)
    {
        // VmHWM: the process's peak resident set size, in kB.
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static long FolderBytes(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    private static List<JsonElement> ReadLetters(string dataFolder)
    {
        var folder = Path.Combine(dataFolder, "deadletter");
        return Directory.Exists(folder)
            ? Directory.GetFiles(folder, "messages-*.jsonl").Order(StringComparer.Ordinal)
                .SelectMany(File.ReadAllLines)
                .Where(l => l.EndsWith('}'))
                .Select(l => JsonDocument.Parse(l).RootElement.Clone())
                .ToList()
            : [];
    }
}
