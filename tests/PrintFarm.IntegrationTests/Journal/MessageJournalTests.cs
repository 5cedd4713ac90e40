using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.IntegrationTests.Journal;

/// <summary>The write-ahead journal on a real disk: durability before acknowledgement, crash recovery, segments.</summary>
public sealed class MessageJournalTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrintFarmInstrumentation _metrics;
    private readonly string _folder = ServerProcess.NewFolder("journal");

    public MessageJournalTests()
    {
        _metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
    }

    private MessageJournal Open(long segmentBytes = 64L << 20, long maxBytes = 1L << 30)
    {
        var journal = new MessageJournal(_folder, new JournalOptions { SegmentBytes = segmentBytes, MaxBytes = maxBytes }, 1000, TimeProvider.System, _metrics, NullLogger.Instance);
        journal.StartWriting();
        return journal;
    }

    private static JournalEntry Entry(int i, Func<CancellationToken, Task>? ack = null) =>
        new($"printfarm/p{i % 7}/event", Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), Retained: i % 5 == 0, QoS: (byte)(i % 2), T0.AddMilliseconds(i), ack);

    // One group commit per chunk, so a small segment size gives several segments.
    private static async Task AppendInGroupsAsync(MessageJournal journal, int count, int chunk = 20)
    {
        for (var i = 0; i < count; i++)
        {
            await journal.AppendAsync(Entry(i));
            if ((i + 1) % chunk == 0)
            {
                await WaitUntilDurable(journal, i + 1);
            }
        }

        await WaitUntilDurable(journal, count);
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

    private static async Task WaitUntilDurable(MessageJournal journal, long messages) =>
        await Eventually.Until(() => Task.FromResult(journal.End.Sequence), s => s >= messages, $"{messages} messages durable", TimeSpan.FromSeconds(10));

    [Fact]
    public async Task Append_ThenRead_GivesEveryMessageInOrderWithItsFields()
    {
        await using var journal = Open();
        for (var i = 0; i < 500; i++)
        {
            await journal.AppendAsync(Entry(i));
        }

        await WaitUntilDurable(journal, 500);
        using var reader = journal.OpenReader(null);
        var records = ReadAll(reader);

        Assert.Equal(500, records.Count);
        for (var i = 0; i < 500; i++)
        {
            var expected = Entry(i);
            Assert.Equal(i, records[i].Sequence);
            Assert.Equal(expected.Topic, records[i].Topic);
            Assert.Equal(expected.Payload, records[i].Payload.ToArray());
            Assert.Equal(expected.Retained, records[i].Retained);
            Assert.Equal(expected.QoS, records[i].QoS);
            Assert.Equal(expected.ReceivedAt, records[i].ReceivedAt);
        }
    }

    [Fact]
    public async Task Acknowledgement_IsSentOnlyOnceTheMessageIsDurable()
    {
        await using var journal = Open();
        var notDurableAtAck = 0;
        var acked = 0;
        for (var i = 0; i < 300; i++)
        {
            var sequence = i;
            await journal.AppendAsync(Entry(i, _ =>
            {
                // Durable means a reader opened now can read it: the committed end is past it.
                if (journal.End.Sequence <= sequence)
                {
                    Interlocked.Increment(ref notDurableAtAck);
                }

                Interlocked.Increment(ref acked);
                return Task.CompletedTask;
            }));
        }

        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acked)), a => a == 300, "300 acknowledgements", TimeSpan.FromSeconds(10));
        Assert.Equal(0, notDurableAtAck);
    }

    [Fact]
    public async Task Reopen_AfterACrashMidGroup_CutsThePartialRecordAndKeepsTheRest()
    {
        await using (var journal = Open())
        {
            for (var i = 0; i < 100; i++)
            {
                await journal.AppendAsync(Entry(i));
            }

            await WaitUntilDurable(journal, 100);
        }

        // A crash during a group commit leaves half a record at the end of the last segment.
        var segment = Directory.GetFiles(_folder, "*.log").Order(StringComparer.Ordinal).Last();
        var whole = new FileInfo(segment).Length;
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write([40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
        }

        await using var reopened = Open();
        Assert.Equal(whole, new FileInfo(segment).Length);
        Assert.Equal(100, reopened.End.Sequence);
        await reopened.AppendAsync(Entry(100));
        await WaitUntilDurable(reopened, 101);
        using var reader = reopened.OpenReader(null);
        var records = ReadAll(reader);
        Assert.Equal(Enumerable.Range(0, 101).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.Equal(Entry(100).Payload, records[^1].Payload.ToArray());
    }

    [Fact]
    public async Task Reader_ResumesAtASavedPosition_AcrossSegmentsAndAReopen()
    {
        JournalPosition saved;
        await using (var journal = Open(segmentBytes: 2048))
        {
            await AppendInGroupsAsync(journal, 400);
            using var reader = journal.OpenReader(null);
            for (var i = 0; i < 150; i++)
            {
                Assert.True(reader.TryRead(out _));
            }

            saved = reader.Position;
        }

        Assert.True(Directory.GetFiles(_folder, "*.log").Length > 3, "the test needs several segments");
        await using var reopened = Open(segmentBytes: 2048);
        using var resumed = reopened.OpenReader(saved);
        var rest = ReadAll(resumed);
        Assert.Equal(Enumerable.Range(150, 250).Select(i => (long)i), rest.Select(r => r.Sequence));
    }

    [Fact]
    public async Task DeleteBefore_RemovesOnlySegmentsWhollyBeforeThePosition()
    {
        await using var journal = Open(segmentBytes: 2048);
        await AppendInGroupsAsync(journal, 400);
        using var reader = journal.OpenReader(null);
        for (var i = 0; i < 200; i++)
        {
            Assert.True(reader.TryRead(out _));
        }

        var before = journal.Bytes;
        var deleted = journal.DeleteBefore(reader.Position);

        Assert.True(deleted > 0);
        Assert.True(journal.Bytes < before);
        Assert.Equal(journal.Bytes, Directory.GetFiles(_folder, "*.log").Sum(f => new FileInfo(f).Length));
        using var fromStart = journal.OpenReader(null);
        var kept = ReadAll(fromStart);
        Assert.True(kept[0].Sequence <= 200, "a record not yet covered by the position was deleted");
        Assert.Equal(399, kept[^1].Sequence);
    }

    [Fact]
    public async Task Reader_SkipsARecordThatFailsItsChecksum_AndSaysHowMuch()
    {
        await using (var journal = Open(segmentBytes: 2048))
        {
            await AppendInGroupsAsync(journal, 200);
        }

        // Flip one byte inside the first segment's second record: the disk returned something else.
        var first = Directory.GetFiles(_folder, "*.log").Order(StringComparer.Ordinal).First();
        var bytes = await File.ReadAllBytesAsync(first);
        var secondRecord = 8 + BitConverter.ToInt32(bytes, 0);
        bytes[secondRecord + 20] ^= 0xFF;
        await File.WriteAllBytesAsync(first, bytes);

        await using var reopened = Open(segmentBytes: 2048);
        using var reader = reopened.OpenReader(null);
        var records = ReadAll(reader);

        Assert.Equal(0, records[0].Sequence);
        Assert.True(reader.CorruptionSkipped > 0);
        Assert.Equal(199, records[^1].Sequence);
        Assert.DoesNotContain(records, r => r.Sequence == 1);
    }

    [Fact]
    public async Task WaitToRead_ReturnsFalse_OnceCompletedAndReadToTheEnd()
    {
        var journal = Open();
        await journal.AppendAsync(Entry(0));
        using var reader = journal.OpenReader(null);
        Assert.True(await reader.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(reader.TryRead(out _));

        await journal.CompleteAsync();

        Assert.False(await reader.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await journal.DisposeAsync();
    }

    [Fact]
    public async Task A_full_group_refuses_the_next_message_until_the_writer_takes_it()
    {
        // A group of at most 10 messages; the writer is not started yet, so nothing takes the group.
        await using var journal = new MessageJournal(_folder, new JournalOptions(), 10, TimeProvider.System, _metrics, NullLogger.Instance);
        var topic = Encoding.UTF8.GetBytes("printfarm/p1/event");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(AppendResult.Appended, journal.TryAppend(topic, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), false, 0, T0, default));
        }

        Assert.Equal(AppendResult.Full, journal.TryAppend(topic, "{}"u8, false, 0, T0, default));
        var room = journal.WaitForRoomAsync();
        Assert.False(room.IsCompleted);
        Assert.Equal(10, journal.Queued);

        journal.StartWriting();
        journal.NotifyWriter();
        await room.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(AppendResult.Appended, journal.TryAppend(topic, "{\"n\":10}"u8, false, 0, T0, default));
        journal.NotifyWriter();
        await WaitUntilDurable(journal, 11);

        using var reader = journal.OpenReader(null);
        Assert.Equal(Enumerable.Range(0, 11).Select(i => $"{{\"n\":{i}}}"), ReadAll(reader).Select(r => Encoding.UTF8.GetString(r.Payload.Span)));
    }

    [Fact]
    public async Task A_completed_journal_takes_no_more_messages()
    {
        var journal = Open();
        await journal.CompleteAsync();

        Assert.Equal(AppendResult.Closed, journal.TryAppend("t"u8, "{}"u8, false, 1, T0, default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => journal.AppendAsync(Entry(0)).AsTask());
        await journal.DisposeAsync();
    }
}
