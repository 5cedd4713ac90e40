using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;
using PrintFarm.Worker.Pipeline;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Journal;

/// <summary>
/// Issue 18, items 1 and 5 (journal side), on a temp folder: a flipped byte in the durable part is corruption, kept and
/// skipped to the next valid record, never cut away with the records after it; a torn tail is still cut; a group that
/// does not fit a full disk is committed in parts, and readiness says why while commits fail.
/// </summary>
public sealed class JournalDamageTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrintFarmInstrumentation _metrics;
    private readonly string _folder = ServerProcess.NewFolder("journal-damage");

    public JournalDamageTests()
    {
        _metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
    }

    private string QuarantineFolder => Path.Combine(_folder, "quarantine");

    private MessageJournal Open(long segmentBytes = 64L << 20, JournalDisk? disk = null)
    {
        var journal = new MessageJournal(_folder, new JournalOptions { SegmentBytes = segmentBytes, MaxBytes = 1L << 30 }, 1000, TimeProvider.System, _metrics, NullLogger.Instance, disk);
        journal.StartWriting();
        return journal;
    }

    private static JournalEntry Entry(int i) =>
        new($"printfarm/p{i % 7}/event", Encoding.UTF8.GetBytes($"{{\"event\":\"job_progress\",\"n\":{i},\"pad\":\"{new string('x', i % 40)}\"}}"), Retained: false, QoS: 1, T0.AddMilliseconds(i), null);

    private static async Task WriteAsync(MessageJournal journal, int count, int chunk = 20)
    {
        for (var i = 0; i < count; i++)
        {
            await journal.AppendAsync(Entry(i));
            if ((i + 1) % chunk == 0 || i + 1 == count)
            {
                var durable = i + 1;
                await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s >= durable, $"{durable} messages durable", TimeSpan.FromSeconds(10));
            }
        }
    }

    private static List<LogRecord> ReadAll(JournalReader reader)
    {
        var records = new List<LogRecord>();
        while (reader.TryRead(out var record))
        {
            records.Add(record);
        }

        return records;
    }

    // The records of a segment file as (offset, length, sequence), read by their length fields.
    private static List<(long Offset, int Length, long Sequence)> Records(byte[] segment)
    {
        var records = new List<(long, int, long)>();
        for (var offset = 0; offset + JournalCodec.HeaderBytes <= segment.Length;)
        {
            var length = JournalCodec.HeaderBytes + BinaryPrimitives.ReadInt32LittleEndian(segment.AsSpan(offset));
            records.Add((offset, length, BinaryPrimitives.ReadInt64LittleEndian(segment.AsSpan(offset + JournalCodec.HeaderBytes))));
            offset += length;
        }

        return records;
    }

    private string[] Segments() => Directory.GetFiles(_folder, "*.log").Order(StringComparer.Ordinal).ToArray();

    private static async Task<HealthCheckResult> HealthAsync(MessageJournal journal) =>
        await new JournalHealthCheck(journal).CheckHealthAsync(new HealthCheckContext());

    // Overwrites `count` bytes at `at` with their complement; returns the sequences of the records that held them.
    private static async Task<long[]> FlipAsync(string segment, long at, int count)
    {
        var bytes = await File.ReadAllBytesAsync(segment);
        var hit = Records(bytes).Where(r => r.Offset < at + count && at < r.Offset + r.Length).Select(r => r.Sequence).ToArray();
        for (var i = 0; i < count; i++)
        {
            bytes[at + i] ^= 0xFF;
        }

        await File.WriteAllBytesAsync(segment, bytes);
        return hit;
    }

    [Fact]
    public async Task Four_bytes_flipped_at_30_percent_of_the_last_segment_are_quarantined_and_every_other_record_is_replayed()
    {
        await using (var journal = Open())
        {
            await WriteAsync(journal, 200);
        }

        var segment = Assert.Single(Segments());
        var length = new FileInfo(segment).Length;
        var at = length * 3 / 10;
        var lost = await FlipAsync(segment, at, 4);
        var damaged = await File.ReadAllBytesAsync(segment);

        await using (var reopened = Open())
        {
            // Nothing cut: the bytes after the damage were fsynced and acknowledged.
            Assert.Equal(length, new FileInfo(segment).Length);
            Assert.Equal(200, reopened.End.Sequence);
            using var reader = reopened.OpenReader(null);
            var records = ReadAll(reader);
            Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i).Except(lost), records.Select(r => r.Sequence));
            Assert.All(records, r => Assert.Equal(Entry((int)r.Sequence).Payload, r.Payload.ToArray()));

            // The damaged range is kept beside the journal, byte for byte, named by segment and offset.
            var first = Records(await File.ReadAllBytesAsync(segment)).First(r => r.Sequence == lost[0]);
            var bad = Assert.Single(Directory.GetFiles(QuarantineFolder, "*.bad"));
            Assert.Equal($"{Path.GetFileNameWithoutExtension(segment)}-{first.Offset}.bad", Path.GetFileName(bad));
            var kept = await File.ReadAllBytesAsync(bad);
            Assert.Equal(damaged.AsSpan((int)first.Offset, kept.Length).ToArray(), kept);
            Assert.InRange(at, first.Offset, first.Offset + kept.Length - 4);
            Assert.Equal(kept.Length, reopened.Quarantine.DamagedBytes);

            // Degraded until acknowledged; the journal goes on taking messages.
            var health = await HealthAsync(reopened);
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains(Path.GetFileName(bad), health.Description, StringComparison.Ordinal);
            await reopened.AppendAsync(Entry(200));
            await Eventually.Until(() => Task.FromResult(reopened.End.Sequence), s => s == 201, "the next message durable", TimeSpan.FromSeconds(10));

            File.Move(bad, Path.ChangeExtension(bad, ".bad.acked"));
            Assert.Equal(HealthStatus.Healthy, (await HealthAsync(reopened)).Status);
        }

        // A restart finds the same damage (the segment keeps it until a checkpoint passes it): acknowledged, still healthy.
        await using var again = Open();
        using var replay = again.OpenReader(null);
        Assert.Equal(Enumerable.Range(0, 201).Select(i => (long)i).Except(lost), ReadAll(replay).Select(r => r.Sequence));
        Assert.Empty(Directory.GetFiles(QuarantineFolder, "*.bad"));
        Assert.Equal(HealthStatus.Healthy, (await HealthAsync(again)).Status);
    }

    [Fact]
    public async Task Two_bytes_flipped_in_an_older_segment_lose_only_the_record_that_held_them()
    {
        await using (var journal = Open(segmentBytes: 4096))
        {
            await WriteAsync(journal, 400);
        }

        var segments = Segments();
        Assert.True(segments.Length >= 4, "the test needs several segments");
        var older = segments[1];
        var length = new FileInfo(older).Length;
        var lost = await FlipAsync(older, length / 2, 2);
        var damaged = await File.ReadAllBytesAsync(older);

        await using var reopened = Open(segmentBytes: 4096);
        using var reader = reopened.OpenReader(null);
        var records = ReadAll(reader);

        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)i).Except(lost), records.Select(r => r.Sequence));
        Assert.True(reader.CorruptionSkipped > 0);
        var first = Records(damaged).First(r => r.Sequence == lost[0]);
        var bad = Assert.Single(Directory.GetFiles(QuarantineFolder, "*.bad"));
        Assert.Equal($"{Path.GetFileNameWithoutExtension(older)}-{first.Offset}.bad", Path.GetFileName(bad));
        Assert.Equal(damaged.AsSpan((int)first.Offset, first.Length).ToArray(), await File.ReadAllBytesAsync(bad));
        Assert.Equal(length, new FileInfo(older).Length);
        Assert.Equal(HealthStatus.Degraded, (await HealthAsync(reopened)).Status);
    }

    [Fact]
    public async Task Damage_in_the_last_record_of_an_older_segment_is_quarantined_to_its_end_and_the_next_segment_read_whole()
    {
        await using (var journal = Open(segmentBytes: 4096))
        {
            await WriteAsync(journal, 400);
        }

        var older = Segments()[1];
        var bytes = await File.ReadAllBytesAsync(older);
        var last = Records(bytes)[^1];
        var lost = await FlipAsync(older, last.Offset + 12, 1);

        await using var reopened = Open(segmentBytes: 4096);
        using var reader = reopened.OpenReader(null);

        Assert.Equal([last.Sequence], lost);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)i).Except(lost), ReadAll(reader).Select(r => r.Sequence));
        var bad = Assert.Single(Directory.GetFiles(QuarantineFolder, "*.bad"));
        Assert.Equal(last.Length, new FileInfo(bad).Length);
    }

    [Fact]
    public async Task A_torn_tail_is_still_cut_and_quarantines_nothing()
    {
        await using (var journal = Open())
        {
            await WriteAsync(journal, 100);
        }

        // A crash during a group commit: half a record, then bytes that never became a record.
        var segment = Assert.Single(Segments());
        var whole = new FileInfo(segment).Length;
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write([40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
            file.Write(new byte[300]);
        }

        await using var reopened = Open();

        Assert.Equal(whole, new FileInfo(segment).Length);
        Assert.Equal(100, reopened.End.Sequence);
        Assert.False(Directory.Exists(QuarantineFolder) && Directory.EnumerateFiles(QuarantineFolder).Any());
        Assert.Equal(HealthStatus.Healthy, (await HealthAsync(reopened)).Status);
    }

    [Fact]
    public async Task A_group_larger_than_the_free_space_commits_what_fits_acknowledges_it_and_fails_readiness_until_space_returns()
    {
        var disk = new FullDisk(_folder) { FreeBytes = 60_000 };
        var acked = 0;
        var ackedBeforeDurable = 0;
        var topic = Encoding.UTF8.GetBytes("printfarm/p1/event");

        // No reserve: the disk itself runs out (the reserve is the next test's).
        await using var journal = new MessageJournal(_folder, new JournalOptions { DiskReserveBytes = 0 }, 1000, TimeProvider.System, _metrics, NullLogger.Instance, disk);

        // One group of 100 messages of ~1 KB (~105 KB): more than the disk has left.
        for (var i = 0; i < 100; i++)
        {
            var sequence = i;
            var ack = new JournalAck(null, 0, _ =>
            {
                if (journal.End.Sequence <= sequence)
                {
                    Interlocked.Increment(ref ackedBeforeDurable);
                }

                Interlocked.Increment(ref acked);
                return Task.CompletedTask;
            });
            Assert.Equal(AppendResult.Appended, journal.TryAppend(topic, Payload(i), false, 1, T0, ack));
        }

        journal.StartWriting();
        journal.NotifyWriter();

        // What fits is committed and acknowledged; the rest waits, and readiness says why.
        await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s >= 40, "the part of the group that fits durable", TimeSpan.FromSeconds(20));
        var health = await Eventually.Until(() => HealthAsync(journal), h => h.Status == HealthStatus.Unhealthy, "readiness failing", TimeSpan.FromSeconds(10), h => h.Description ?? "");
        Assert.Contains("No space left on device", health.Description, StringComparison.Ordinal);
        Assert.NotNull(journal.CommitFailure);
        Assert.InRange(journal.End.Sequence, 40, 99);
        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acked)), a => a == journal.End.Sequence, "the durable part acknowledged", TimeSpan.FromSeconds(10));

        // Space comes back (a checkpoint freed segments): the rest commits, readiness recovers.
        disk.FreeBytes = long.MaxValue;
        await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s == 100, "the whole group durable", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acked)), a => a == 100, "every message acknowledged", TimeSpan.FromSeconds(10));
        Assert.Equal(0, Volatile.Read(ref ackedBeforeDurable));
        Assert.Null(journal.CommitFailure);
        Assert.Equal(HealthStatus.Healthy, (await HealthAsync(journal)).Status);

        using var reader = journal.OpenReader(null);
        var records = ReadAll(reader);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal(Payload((int)r.Sequence), r.Payload.ToArray()));
        Assert.Equal(new FileInfo(Assert.Single(Segments())).Length, journal.Bytes);

        static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"{{\"n\":{i},\"pad\":\"{new string('y', 1000)}\"}}");
    }

    [Fact]
    public async Task The_journal_stops_short_of_its_disk_reserve_so_a_checkpoint_still_fits_and_goes_on_once_segments_are_freed()
    {
        // 300 KB for the journal's disk, 100 KB of it reserved; 300 messages of ~1 KB (~310 KB) in one group.
        var disk = new FullDisk(_folder) { FreeBytes = 300_000 };
        var acked = 0;
        var topic = Encoding.UTF8.GetBytes("printfarm/p1/event");
        await using var journal = new MessageJournal(_folder, new JournalOptions { DiskReserveBytes = 100_000 }, 1000, TimeProvider.System, _metrics, NullLogger.Instance, disk);
        for (var i = 0; i < 300; i++)
        {
            var ack = new JournalAck(null, 0, _ =>
            {
                Interlocked.Increment(ref acked);
                return Task.CompletedTask;
            });
            Assert.Equal(AppendResult.Appended, journal.TryAppend(topic, Payload(i), false, 1, T0, ack));
        }

        journal.StartWriting();
        journal.NotifyWriter();

        // What fits above the reserve is committed and acknowledged; the disk is never filled; readiness says why.
        var health = await Eventually.Until(() => HealthAsync(journal), h => h.Status == HealthStatus.Unhealthy, "readiness failing", TimeSpan.FromSeconds(20), h => h.Description ?? "");
        Assert.Contains("Journal:DiskReserveBytes", health.Description, StringComparison.Ordinal);
        await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s >= 150, "the part above the reserve durable", TimeSpan.FromSeconds(20));
        Assert.InRange(journal.End.Sequence, 150, 199);
        Assert.True(disk.FreeBytes - journal.Bytes >= 100_000, $"{disk.FreeBytes - journal.Bytes} bytes left free, less than the reserve");
        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acked)), a => a == journal.End.Sequence, "the durable part acknowledged", TimeSpan.FromSeconds(10));

        // Space comes back (a checkpoint freed segments): the rest commits, readiness recovers.
        disk.FreeBytes = long.MaxValue;
        await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s == 300, "the whole group durable", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acked)), a => a == 300, "every message acknowledged", TimeSpan.FromSeconds(10));
        Assert.Null(journal.CommitFailure);
        using var reader = journal.OpenReader(null);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), ReadAll(reader).Select(r => r.Sequence));

        static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"{{\"n\":{i},\"pad\":\"{new string('y', 1000)}\"}}");
    }

    // A disk with FreeBytes left for the journal's segments: a write past it writes what fits, then fails as Linux does.
    private sealed class FullDisk(string folder) : JournalDisk
    {
        private long _free;

        public long FreeBytes
        {
            get => Interlocked.Read(ref _free);
            set => Interlocked.Exchange(ref _free, value);
        }

        public override void Append(FileStream segment, long offset, ReadOnlySpan<byte> bytes)
        {
            var used = Directory.GetFiles(folder, "*.log").Sum(f => new FileInfo(f).Length);
            var room = FreeBytes == long.MaxValue ? long.MaxValue : FreeBytes - used;
            if (bytes.Length > room)
            {
                base.Append(segment, offset, bytes[..(int)Math.Max(room, 0)]);
                throw new IOException("No space left on device", 28);
            }

            base.Append(segment, offset, bytes);
        }

        public override long AvailableFreeSpace(string path) =>
            FreeBytes == long.MaxValue ? long.MaxValue : FreeBytes - Directory.GetFiles(folder, "*.log").Sum(f => new FileInfo(f).Length);
    }
}
