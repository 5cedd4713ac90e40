using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Journal;

namespace PrintFarm.IntegrationTests.Journal;

/// <summary>
/// Issue 18, "while you are in the journal": the journal's parts alone — the group being gathered, the segment set, the
/// acknowledgements — its writer as a supervised service of the host, and its options validated beside it. Before: one
/// 845-line class whose loops ran from a DI factory; a writer that failed left ingestion stuck with nobody told, and
/// <c>Journal:SegmentBytes</c>/<c>MaxBytes</c> took any value.
/// </summary>
public sealed class JournalPartsTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrintFarmInstrumentation _metrics;
    private readonly string _folder = ServerProcess.NewFolder("journal-parts");

    public JournalPartsTests()
    {
        _metrics = new PrintFarmInstrumentation(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
    }

    private static readonly byte[] Topic = Encoding.UTF8.GetBytes("printfarm/p1/event");

    [Fact]
    public void The_group_takes_GroupMessages_then_is_full_until_the_writer_takes_it_and_refuses_once_closed()
    {
        using var group = new JournalGroup(3, firstSequence: 10, _metrics, NullLogger.Instance);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(AppendResult.Appended, group.TryAppend(Topic, "{}"u8, false, 0, T0, default));
        }

        Assert.Equal(AppendResult.Full, group.TryAppend(Topic, "{}"u8, false, 0, T0, default));
        var room = group.WaitForRoomAsync();
        Assert.False(room.IsCompleted);

        var taken = group.Take(out var last);
        Assert.False(last);
        Assert.Equal(3, taken.Count);
        Assert.True(room.IsCompleted, "producers waiting for room go on once the writer has taken the group");
        Assert.True(JournalCodec.TryReadLength(taken.Records.WrittenSpan, out var length));
        Assert.True(JournalCodec.TryDecode(taken.Records.WrittenMemory[..(JournalCodec.HeaderBytes + length)], null, copyPayload: true, out var first));
        Assert.Equal(10, first.Sequence);

        Assert.Equal(AppendResult.Appended, group.TryAppend(Topic, "{}"u8, false, 0, T0, default));
        group.GiveBack(taken);
        group.Close();
        Assert.Equal(AppendResult.Closed, group.TryAppend(Topic, "{}"u8, false, 0, T0, default));

        var rest = group.Take(out last);
        Assert.Equal(1, rest.Count);
        Assert.False(last, "what was gathered before Close is still committed");
        group.GiveBack(rest);
        Assert.Equal(0, group.Take(out last).Count);
        Assert.True(last);
    }

    [Fact]
    public async Task The_segment_set_rolls_past_SegmentBytes_deletes_whole_segments_and_reopens_at_its_end()
    {
        var options = new JournalOptions { SegmentBytes = 4096, MaxBytes = 1L << 30 };
        JournalPosition end;
        await using (var segments = new JournalSegments(_folder, options, JournalDisk.Default, new JournalQuarantine(_folder, _metrics, NullLogger.Instance), NullLogger.Instance))
        {
            var batch = 0;
            for (var i = 0; i < 3; i++)
            {
                var records = Records(10, firstSequence: i * 10);
                batch = records.Length;
                Assert.Equal((i + 1) * 10, segments.Append(records, 10).Sequence);
            }

            end = segments.End;
            Assert.Equal(new JournalPosition(0, 3 * batch, 30), end);
            Assert.Equal(3 * batch, segments.Bytes);
        }

        // Reopened, it ends where it did; an append starts a new segment once the current one is past SegmentBytes.
        await using (var segments = new JournalSegments(_folder, options, JournalDisk.Default, new JournalQuarantine(_folder, _metrics, NullLogger.Instance), NullLogger.Instance))
        {
            Assert.Equal(end, segments.End);
            var big = Records(200, firstSequence: 30);
            Assert.True(big.Length > 4096);
            segments.Append(big, 200);
            var rolled = segments.Append(Records(1, firstSequence: 230), 1);
            Assert.Equal(230, rolled.Segment);
            Assert.Equal(0, segments.Start.Segment);
            Assert.Equal(230, segments.NextSegment(0));

            Assert.Equal(1, segments.DeleteBefore(rolled));
            Assert.Equal(230, segments.Start.Segment);
            Assert.False(File.Exists(segments.SegmentPath(0)));
            Assert.True(segments.Contains(230));
        }
    }

    [Fact]
    public async Task Acknowledgements_go_out_in_commit_order_consecutive_ones_of_a_connection_together()
    {
        var acks = new JournalAcknowledgements(TimeProvider.System, _metrics, NullLogger.Instance);
        var a = new RecordingConnection();
        var b = new RecordingConnection();
        var callbacks = new List<string>();
        acks.Post(new JournalAck(a, 1, null));
        acks.Post(new JournalAck(a, 2, null));
        acks.Post(new JournalAck(b, 7, null));
        acks.Post(new JournalAck(null, 0, _ => { callbacks.Add("callback"); return Task.CompletedTask; }));
        acks.Post(new JournalAck(a, 3, null));
        acks.Complete();

        await acks.RunAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([[1, 2], [3]], a.Calls);
        Assert.Equal([[7]], b.Calls);
        Assert.Equal(["callback"], callbacks);
    }

    [Fact]
    public async Task A_writer_that_fails_faults_its_task_and_completes_the_journal_so_nothing_waits_on_it_silently()
    {
        await using var journal = new MessageJournal(_folder, new JournalOptions(), 100, TimeProvider.System, _metrics, NullLogger.Instance, new BrokenDisk());
        var writer = journal.RunWriterAsync();
        await journal.AppendAsync(new JournalEntry("printfarm/p1/event", "{}"u8.ToArray(), false, 0, T0, null));

        var fault = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("controller", fault.Message, StringComparison.Ordinal);
        Assert.True(journal.IsCompleted, "readers see the end instead of waiting for a commit that never comes");
        using var reader = journal.OpenReader(null);
        Assert.False(await reader.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void The_writer_and_its_acknowledgements_are_the_host_s_first_services_so_they_stop_last()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = _folder });
        builder.Configuration["PrintFarm:DataFolder"] = _folder;
        builder.AddPrintFarmTelemetry();
        // The worker's own services (OpenTelemetry puts its TelemetryHostedService first of all, on purpose).
        var hosted = builder.Services
            .Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Namespace?.StartsWith("PrintFarm.", StringComparison.Ordinal) != false)
            .Select(d => d.ImplementationType?.Name ?? "factory")
            .ToList();

        Assert.Equal(nameof(JournalAcknowledgementService), hosted[0]);
        Assert.Equal(nameof(JournalWriterService), hosted[1]);
        Assert.Contains("MqttIngestionService", hosted.Skip(2));
        Assert.Contains("TelemetryPipelineService", hosted.Skip(2));
    }

    [Theory]
    [InlineData(0L, 1L << 30, null, null, "PrintFarm:Journal:SegmentBytes is '0'")]
    [InlineData(64L << 20, 1L << 20, null, null, "PrintFarm:Journal:MaxBytes is '1048576'")]
    [InlineData(64L << 20, 2L << 30, 5000, null, "PrintFarm:Journal:GroupMessages is '5000'")]
    [InlineData(64L << 20, 2L << 30, null, 0, "PrintFarm:Mqtt:QueueCapacity is '0'")]
    public void Journal_settings_are_validated_beside_the_journal(long segmentBytes, long maxBytes, int? groupMessages, int? queueCapacity, string error)
    {
        var o = new PrintFarmOptions { Influx = { Bucket = "b" } };
        o.Journal.SegmentBytes = segmentBytes;
        o.Journal.MaxBytes = maxBytes;
        o.Journal.GroupMessages = groupMessages;
        o.Mqtt.QueueCapacity = queueCapacity;

        var result = new PrintFarmOptionsValidator().Validate(null, o);

        Assert.True(result.Failed);
        Assert.StartsWith(error, Assert.Single(result.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_journal_disk_reserve_is_refused_and_0_turns_it_off()
    {
        var o = new PrintFarmOptions { Influx = { Bucket = "b" } };
        o.Journal.DiskReserveBytes = -1;
        Assert.StartsWith("PrintFarm:Journal:DiskReserveBytes is '-1'", Assert.Single(new PrintFarmOptionsValidator().Validate(null, o).Failures!), StringComparison.Ordinal);
        o.Journal.DiskReserveBytes = 0;
        Assert.False(new PrintFarmOptionsValidator().Validate(null, o).Failed);
    }

    [Theory]
    [InlineData("DeadLetterMaxBytes", "1000", "PrintFarm:DeadLetterMaxBytes is '1000'")]
    [InlineData("DeadLetterDiskReserveBytes", "-5", "PrintFarm:DeadLetterDiskReserveBytes is '-5'")]
    [InlineData("Mqtt:MaximumPacketSize", "1000", "PrintFarm:Mqtt:MaximumPacketSize is '1000'")]
    [InlineData("Mqtt:MaximumPacketSize", "300000000", "PrintFarm:Mqtt:MaximumPacketSize is '300000000'")]
    public void Bad_values_of_the_disk_and_packet_limits_are_refused_at_start(string key, string value, string error)
    {
        var o = new PrintFarmOptions { Influx = { Bucket = "b" } };
        o.Mqtt.ProtocolVersion = "5";
        switch (key)
        {
            case "DeadLetterMaxBytes": o.DeadLetterMaxBytes = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "DeadLetterDiskReserveBytes": o.DeadLetterDiskReserveBytes = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            default: o.Mqtt.MaximumPacketSize = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        }

        var result = new PrintFarmOptionsValidator().Validate(null, o);

        Assert.True(result.Failed);
        Assert.StartsWith(error, Assert.Single(result.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void A_maximum_packet_size_is_refused_under_MQTT_3_1_1_which_has_no_way_to_send_it()
    {
        var o = new PrintFarmOptions { Influx = { Bucket = "b" } };
        o.Mqtt.ProtocolVersion = "3.1.1";
        o.Mqtt.MaximumPacketSize = 2_000_000;
        Assert.StartsWith("PrintFarm:Mqtt:MaximumPacketSize is '2000000'", Assert.Single(new PrintFarmOptionsValidator().Validate(null, o).Failures!), StringComparison.Ordinal);
        o.Mqtt.ProtocolVersion = "5";
        Assert.False(new PrintFarmOptionsValidator().Validate(null, o).Failed);
    }

    [Fact]
    public void GroupMessages_defaults_to_4096_and_the_older_Mqtt_QueueCapacity_still_sizes_the_group_when_it_is_not_set()
    {
        var o = new PrintFarmOptions();
        Assert.Equal(4096, JournalOptions.EffectiveGroupMessages(o));
        o.Mqtt.QueueCapacity = 200;
        Assert.Equal(200, JournalOptions.EffectiveGroupMessages(o));
        o.Mqtt.QueueCapacity = 10_000;
        Assert.Equal(4096, JournalOptions.EffectiveGroupMessages(o));
        o.Journal.GroupMessages = 64;
        Assert.Equal(64, JournalOptions.EffectiveGroupMessages(o));
    }

    private static byte[] Records(int count, long firstSequence)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++)
        {
            JournalCodec.Write(buffer, firstSequence + i, Topic, "{\"n\":1}"u8, false, 0, T0);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private sealed class RecordingConnection : IJournalAcknowledger
    {
        public List<ushort[]> Calls { get; } = [];

        public Task AcknowledgeAsync(IReadOnlyList<ushort> packetIds, CancellationToken cancellationToken)
        {
            Calls.Add([.. packetIds]);
            return Task.CompletedTask;
        }
    }

    private sealed class BrokenDisk : JournalDisk
    {
        public override void Append(FileStream segment, long offset, ReadOnlySpan<byte> bytes) =>
            throw new InvalidOperationException("the disk controller returned garbage");
    }
}
