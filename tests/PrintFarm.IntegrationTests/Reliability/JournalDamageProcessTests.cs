using System.Buffers.Binary;
using System.Text;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18, item 1, with the worker as a process, a real Mosquitto and InfluxDB: 200 QoS 1 jobs, SIGKILL, 4 bytes
/// flipped at 30 % of the only journal segment, restart. The replay (no checkpoint covers the journal) must not cut the
/// records after the damage: the day's farm <c>jobs_completed</c> stays the trace's, and the damaged range is quarantined.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class JournalDamageProcessTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task Four_bytes_flipped_at_30_percent_of_the_journal_leave_the_day_s_farm_totals_intact_after_a_replay()
    {
        var seed = ChaosChecks.Seed();
        output.WriteLine($"seed {seed} (replay with PRINTFARM_CHAOS_SEED={seed})");
        var id = Guid.NewGuid().ToString("N")[..6];
        var trace = new ChaosTrace("d" + id, new Random(seed), printers: 20, jobsPerPrinter: 10);
        var day = trace.FarmDay();
        await using var broker = await MosquittoServer.StartShippedAsync();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "damage");
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "chaos-damage-" + id);
        settings["PrintFarm__CheckpointInterval"] = "00:10:00"; // the restart replays the whole journal
        await using var worker = await WorkerProcess.StartAsync(settings);
        try
        {
            await ChaosChecks.PublishAsync(broker, trace.NativeMessages());
            await ChaosChecks.AssertFarmDayAsync(services.Influx, database, trace, seed);
            await worker.KillAsync();

            // The progress record at or after 30 % of the segment: losing it must cost no job, so every total is known.
            var segment = Assert.Single(Directory.GetFiles(Path.Combine(worker.DataFolder, "journal"), "*.log"));
            var bytes = await File.ReadAllBytesAsync(segment);
            var (offset, length) = Records(bytes).First(r => r.Offset >= bytes.Length * 3 / 10 && Encoding.UTF8.GetString(bytes, (int)r.Offset, r.Length).Contains("job_progress", StringComparison.Ordinal));
            for (var i = 0; i < 4; i++)
            {
                bytes[offset + (length / 2) + i] ^= 0xFF;
            }

            await File.WriteAllBytesAsync(segment, bytes);
            await worker.StartAgainAsync();

            // One more job after the replay: once the farm day holds it too, the replayed windows have been flushed.
            await using (var printers = await TestPublisher.ConnectAsync(broker))
            {
                var topic = $"printfarm/{trace.Prefix}-extra/event";
                var start = trace.Day.AddHours(22);
                await printers.PublishJsonAsync(topic, new { type = "job_started", ts = start.ToString("O", System.Globalization.CultureInfo.InvariantCulture), job_id = "X1", file = "owl_x3.gcode" });
                await printers.PublishJsonAsync(topic, new { type = "job_finished", ts = start.AddMinutes(30).ToString("O", System.Globalization.CultureInfo.InvariantCulture), job_id = "X1", file = "owl_x3.gcode", outcome = "completed", filament_g = 12 });
            }

            await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"scope\" = 'farm' AND \"window\" = '1d'"),
                rows => rows.Count == 1 && rows[0].Number("jobs_completed") == day.Completed + 1,
                $"the farm's 1d jobs_completed to be {day.Completed} + 1 after the replay (seed {seed})",
                describe: rows => rows.Format() + "\n" + worker.Output);
            Assert.Equal(length, new FileInfo(Assert.Single(Directory.GetFiles(Path.Combine(worker.DataFolder, "journal", "quarantine"), "*.bad"))).Length);
            Assert.Single(worker.LinesContaining("is damaged"));
            Assert.Empty(worker.LinesContaining("ended in a partial write"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ChaosChecks.Failure(seed, "flip at 30 %", ex, worker.Output);
        }
    }

    private static List<(long Offset, int Length)> Records(byte[] segment)
    {
        var records = new List<(long, int)>();
        for (var offset = 0; offset + 8 <= segment.Length;)
        {
            var length = 8 + BinaryPrimitives.ReadInt32LittleEndian(segment.AsSpan(offset));
            records.Add((offset, length));
            offset += length;
        }

        return records;
    }
}
