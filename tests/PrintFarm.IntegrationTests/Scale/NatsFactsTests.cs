using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>One 3-node cluster for all of <see cref="NatsFactsTests"/>, with printers mapped onto 8 partitions.</summary>
public sealed class NatsFactsFixture : IAsyncLifetime
{
    public const int Partitions = 8;

    public NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync([NatsMapping.Partitioned(Partitions)]);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// What nats-server 2.9.10 (the Debian package) really does, measured on a real 3-node cluster, for the clustered
/// mode of issue 20 to rest on: its MQTT listener, subject mappings with <c>partition()</c>, R3 streams, KV leases,
/// and which newer stream features it ignores. Each test's name is the fact; docs/scale-out.md lists them.
/// </summary>
public sealed class NatsFactsTests(NatsFactsFixture fixture) : IClassFixture<NatsFactsFixture>
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Every_node_accepts_MQTT_3_1_1_and_refuses_MQTT_5_as_an_unsupported_protocol_version()
    {
        foreach (var node in Cluster.Nodes)
        {
            await using (var v311 = await MqttPrinter.ConnectAsync(node))
            {
                Assert.True(v311.Client.IsConnected, $"{node.Name} refused MQTT 3.1.1:\n{Cluster.Logs}");
            }

            using var v5 = new MqttClientFactory().CreateMqttClient();
            var options = MqttPrinter.Options(node).WithProtocolVersion(MqttProtocolVersion.V500).Build();
            // The server answers with the 3.1.1 CONNACK return code 1, "unacceptable protocol version" (MQTT 5's own
            // code would be 0x84): MQTTnet, expecting a 5 CONNACK, hands the raw 1 back as the result code.
            var answer = await v5.ConnectAsync(options);
            Assert.Equal(1, (int)answer.ResultCode);
            Assert.False(v5.IsConnected);
            Assert.NotEmpty(Cluster.LogLines("unacceptable protocol version of 5"));
        }
    }

    [Fact]
    public async Task Without_a_mapping_MQTT_topic_printers_a_b_arrives_on_NATS_subject_printers_a_b()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var plain = await NatsCluster.StartAsync(size: 1);
        var node = plain.Nodes[0];
        await using var nats = await ConnectAsync(node.ClientUrl);
        await using var sub = await nats.SubscribeCoreAsync<byte[]>(">", cancellationToken: timeout.Token);
        await nats.PingAsync(timeout.Token);
        await using var printer = await MqttPrinter.ConnectAsync(node);

        await printer.PublishAsync("printers/a/b", "hello", MqttQualityOfServiceLevel.AtLeastOnce);

        var arrived = await NextAsync(sub, m => m.Data is { } d && Encoding.UTF8.GetString(d) == "hello", timeout.Token);
        Assert.Equal("printers.a.b", arrived.Subject);
    }

    [Fact]
    public async Task A_QoS_1_publish_gets_a_PUBACK_from_every_node()
    {
        foreach (var node in Cluster.Nodes)
        {
            await using var printer = await MqttPrinter.ConnectAsync(node);
            var result = await printer.PublishAsync($"printers/puback-{node.Name}/status", "x", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.True(result.IsSuccess, $"{node.Name}: {result.ReasonCode}");
            Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
            Assert.True(printer.Client.IsConnected);
        }
    }

    [Fact]
    public async Task A_QoS_2_publish_is_refused_by_closing_the_connection_and_a_QoS_2_subscription_is_granted_QoS_1()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var node = Cluster.Nodes[0];
        await using var nats = await ConnectAsync(node.ClientUrl);
        await using var sub = await nats.SubscribeCoreAsync<byte[]>("parts.*.printers.qos2.>", cancellationToken: timeout.Token);
        await nats.PingAsync(timeout.Token);

        await using (var subscriber = await MqttPrinter.ConnectAsync(node))
        {
            var granted = await subscriber.Client.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter("dashboard/#", MqttQualityOfServiceLevel.ExactlyOnce).Build(), timeout.Token);
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(granted.Items).ResultCode);
        }

        await using var printer = await MqttPrinter.ConnectAsync(node);
        await Assert.ThrowsAnyAsync<Exception>(() => printer.PublishAsync("printers/qos2/status", "two", MqttQualityOfServiceLevel.ExactlyOnce));
        await Eventually.Until(() => Task.FromResult(printer.Client.IsConnected), connected => !connected, "the server to close the QoS 2 publisher's connection");
        Assert.NotEmpty(Cluster.LogLines("publish QoS=2 not supported"));

        // Nothing of the refused message reached NATS: a QoS 1 publish after it is the first thing on the subject.
        await using var after = await MqttPrinter.ConnectAsync(node);
        await after.PublishAsync("printers/qos2/status", "one", MqttQualityOfServiceLevel.AtLeastOnce);
        var first = await NextAsync(sub, _ => true, timeout.Token);
        Assert.Equal("one", Encoding.UTF8.GetString(first.Data!));
    }

    [Fact]
    public async Task A_topic_with_a_dot_is_refused_by_closing_the_connection_and_nothing_is_delivered()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var node = Cluster.Nodes[1];
        await using var nats = await ConnectAsync(node.ClientUrl);
        await using var sub = await nats.SubscribeCoreAsync<byte[]>(">", cancellationToken: timeout.Token);
        await nats.PingAsync(timeout.Token);
        await using var printer = await MqttPrinter.ConnectAsync(node);

        await Assert.ThrowsAnyAsync<Exception>(() => printer.PublishAsync("printers/mk4.bay-2/status", "dotted", MqttQualityOfServiceLevel.AtLeastOnce));
        await Eventually.Until(() => Task.FromResult(printer.Client.IsConnected), connected => !connected, "the server to close the dotted publisher's connection");
        Assert.NotEmpty(Cluster.LogLines("'.' not supported for MQTT topics"));

        await using var marker = await MqttPrinter.ConnectAsync(node);
        await marker.PublishAsync("printers/marker/status", "marker", MqttQualityOfServiceLevel.AtLeastOnce);
        await NextAsync(sub, m => m.Data is { } d && Encoding.UTF8.GetString(d) == "marker", timeout.Token);
        Assert.DoesNotContain(Drain(sub), m => m.Data is { } d && Encoding.UTF8.GetString(d) == "dotted");
    }

    [Fact]
    public async Task The_partition_mapping_puts_each_printer_on_one_partition_from_every_node_and_spreads_50_printers()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.Nodes[0].ClientUrl);
        await using var sub = await nats.SubscribeCoreAsync<byte[]>("parts.*.printers.*.status", cancellationToken: timeout.Token);
        await nats.PingAsync(timeout.Token);
        var printers = await ConnectEveryNodeAsync();
        try
        {
            await ProbeEveryNodeAsync(printers, sub, timeout.Token);
            var ids = Enumerable.Range(0, 50).Select(i => $"spread-{i:D2}").ToList();
            const int perPrinter = 6;
            for (var round = 0; round < perPrinter; round++)
            {
                foreach (var (id, i) in ids.Select((id, i) => (id, i)))
                {
                    // Message k of a printer goes through node (i + k) % 3: the mapping must not depend on the node.
                    await printers[(i + round) % printers.Count].PublishAsync($"printers/{id}/status", $"{id}:{round}", MqttQualityOfServiceLevel.AtLeastOnce);
                }
            }

            var seen = new List<(string Printer, int Partition)>();
            while (seen.Count < ids.Count * perPrinter)
            {
                var msg = await NextAsync(sub, m => m.Subject.Contains(".printers.spread-", StringComparison.Ordinal), timeout.Token);
                var tokens = msg.Subject.Split('.');
                seen.Add((tokens[3], int.Parse(tokens[1], System.Globalization.CultureInfo.InvariantCulture)));
            }

            var partitionsByPrinter = seen.GroupBy(s => s.Printer).ToDictionary(g => g.Key, g => g.Select(s => s.Partition).Distinct().ToList());
            Assert.Equal(ids.Count, partitionsByPrinter.Count);
            Assert.All(partitionsByPrinter, p => Assert.Single(p.Value));
            // partition(P, token) is FNV-1a (32 bit) of the token modulo P: a worker can compute a printer's partition itself.
            Assert.All(partitionsByPrinter, p => Assert.Equal(Fnv1a32(p.Key) % NatsFactsFixture.Partitions, (uint)p.Value[0]));
            var printersPerPartition = partitionsByPrinter.GroupBy(p => p.Value[0]).ToDictionary(g => g.Key, g => g.Count());
            Assert.True(printersPerPartition.Count == NatsFactsFixture.Partitions, $"50 printers used only partitions {string.Join(',', printersPerPartition.Keys)}");
            Assert.True(printersPerPartition.Values.Max() <= 15, $"uneven spread: {string.Join(", ", printersPerPartition.Select(p => $"{p.Key}={p.Value}"))}");
        }
        finally
        {
            await DisposeAllAsync(printers);
        }
    }

    [Fact]
    public async Task An_R3_user_stream_on_the_mapped_subjects_stores_every_PUBACKed_QoS_1_publish_and_MQTT_msgs_keeps_none()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.ClientUrl);
        var js = new NatsJSContext(nats);
        var stream = await js.CreateStreamAsync(new StreamConfig("FACTS_PARTS", ["parts.>"]) { NumReplicas = 3, Storage = StreamConfigStorage.File }, timeout.Token);
        var printers = await ConnectEveryNodeAsync();
        try
        {
            Assert.Equal(2, stream.Info.Cluster?.Replicas?.Count ?? 0);
            await ProbeStreamFromEveryNodeAsync(printers, stream, timeout.Token);
            await stream.RefreshAsync(timeout.Token);
            var before = stream.Info.State.LastSeq;

            var ids = Enumerable.Range(0, 50).Select(i => $"stored-{i:D2}").ToList();
            const int perPrinter = 4;
            for (var round = 0; round < perPrinter; round++)
            {
                foreach (var (id, i) in ids.Select((id, i) => (id, i)))
                {
                    var result = await printers[(i + round) % printers.Count].PublishAsync($"printers/{id}/status", $"{id}:{round}", MqttQualityOfServiceLevel.AtLeastOnce);
                    Assert.True(result.IsSuccess);
                }
            }

            var expected = before + (ulong)(ids.Count * perPrinter);
            await Eventually.Until(
                async () => { await stream.RefreshAsync(timeout.Token); return stream.Info.State.LastSeq; },
                last => last >= expected,
                $"{ids.Count * perPrinter} messages in the stream after sequence {before}",
                describe: last => $"last sequence {last}");

            var stored = new List<string>();
            for (var seq = before + 1; seq <= stream.Info.State.LastSeq; seq++)
            {
                var msg = await stream.GetAsync(new StreamMsgGetRequest { Seq = seq }, timeout.Token);
                var payload = Encoding.UTF8.GetString(msg.Message.Data.Span);
                Assert.Equal($"parts.{Fnv1a32(payload.Split(':')[0]) % NatsFactsFixture.Partitions}.printers.{payload.Split(':')[0]}.status", msg.Message.Subject);
                stored.Add(payload);
            }

            // Each PUBACKed message once, none doubled, one printer's messages in publish order.
            Assert.Equal(ids.Count * perPrinter, stored.Count);
            Assert.Equal(stored.Count, stored.Distinct().Count());
            Assert.All(stored.GroupBy(s => s.Split(':')[0]), g => Assert.Equal(Enumerable.Range(0, perPrinter).Select(r => $"{g.Key}:{r}"), g));

            // The PUBACK is the server's own $MQTT_msgs stream taking the message; it keeps messages only for MQTT
            // subscribers (interest retention), so it is no log for a NATS consumer: the user stream is.
            var mqttMsgs = await js.GetStreamAsync("$MQTT_msgs", cancellationToken: timeout.Token);
            Assert.Equal(StreamConfigRetention.Interest, mqttMsgs.Info.Config.Retention);
            Assert.Equal(0L, mqttMsgs.Info.State.Messages);
        }
        finally
        {
            await DisposeAllAsync(printers);
            await js.DeleteStreamAsync("FACTS_PARTS", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_KV_bucket_with_MaxAge_is_a_lease_held_while_renewed_by_revision_and_free_after_MaxAge()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var owner = await ConnectAsync(Cluster.Nodes[0].ClientUrl);
        await using var rival = await ConnectAsync(Cluster.Nodes[2].ClientUrl);
        var maxAge = TimeSpan.FromSeconds(2);
        var ownerKv = await new NatsKVContext(new NatsJSContext(owner)).CreateStoreAsync(
            new NatsKVConfig("facts_leases") { MaxAge = maxAge, NumberOfReplicas = 3, History = 1 }, timeout.Token);
        var rivalKv = await new NatsKVContext(new NatsJSContext(rival)).GetStoreAsync("facts_leases", timeout.Token);
        try
        {
            var taken = await ownerKv.TryCreateAsync("partition-3", "worker-a", cancellationToken: timeout.Token);
            Assert.True(taken.Success, taken.Success ? null : taken.Error.Message);
            var revision = taken.Value;
            Assert.False((await rivalKv.TryCreateAsync("partition-3", "worker-b", cancellationToken: timeout.Token)).Success);
            Assert.False((await rivalKv.TryUpdateAsync("partition-3", "worker-b", revision + 10, cancellationToken: timeout.Token)).Success);

            // Renew by revision for twice MaxAge (the delay is the renewal period, not a wait for a result): the lease
            // outlives MaxAge because each renewal is a new message, and the rival stays out the whole time.
            var renewedAt = DateTime.UtcNow;
            var holdUntil = DateTime.UtcNow + (maxAge * 2);
            while (DateTime.UtcNow < holdUntil)
            {
                await Task.Delay(maxAge / 4, timeout.Token);
                var renewed = await ownerKv.TryUpdateAsync("partition-3", "worker-a", revision, cancellationToken: timeout.Token);
                Assert.True(renewed.Success, renewed.Success ? null : renewed.Error.Message);
                Assert.True(renewed.Value > revision);
                revision = renewed.Value;
                renewedAt = DateTime.UtcNow;
                Assert.False((await rivalKv.TryCreateAsync("partition-3", "worker-b", cancellationToken: timeout.Token)).Success, "a renewed lease was taken");
            }

            // Renewals stop: the rival gets the lease once MaxAge passed since the last renewal, not before.
            var rivalTook = await Eventually.Until(
                async () => await rivalKv.TryCreateAsync("partition-3", "worker-b", cancellationToken: timeout.Token),
                r => r.Success,
                "the unrenewed lease to expire",
                timeout: TimeSpan.FromSeconds(20));
            var heldFor = DateTime.UtcNow - renewedAt;
            Assert.True(heldFor >= maxAge - TimeSpan.FromMilliseconds(250), $"lease expired after {heldFor}, before MaxAge {maxAge}");
            Assert.True(heldFor <= maxAge + TimeSpan.FromSeconds(5), $"lease expired only after {heldFor}");

            // The old owner, back from a pause, cannot renew with its stale revision: the revision fences it out.
            var zombie = await ownerKv.TryUpdateAsync("partition-3", "worker-a", revision, cancellationToken: timeout.Token);
            Assert.False(zombie.Success);
            var holder = await ownerKv.GetEntryAsync<string>("partition-3", cancellationToken: timeout.Token);
            Assert.Equal("worker-b", holder.Value);
            Assert.Equal(rivalTook.Value, holder.Revision);
        }
        finally
        {
            await new NatsKVContext(new NatsJSContext(owner)).DeleteStoreAsync("facts_leases", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_stream_SubjectTransform_is_silently_ignored_by_2_9_10()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.ClientUrl);
        var js = new NatsJSContext(nats);
        var stream = await js.CreateStreamAsync(
            new StreamConfig("FACTS_TRANSFORM", ["xform.in.>"])
            {
                NumReplicas = 3,
                SubjectTransform = new SubjectTransform { Src = "xform.in.>", Dest = "xform.out.>" },
            },
            timeout.Token);
        try
        {
            Assert.Null(stream.Info.Config.SubjectTransform);
            var ack = await js.PublishAsync("xform.in.a", Encoding.UTF8.GetBytes("x"), cancellationToken: timeout.Token);
            ack.EnsureSuccess();
            var stored = await stream.GetAsync(new StreamMsgGetRequest { Seq = ack.Seq }, timeout.Token);
            Assert.Equal("xform.in.a", stored.Message.Subject);
        }
        finally
        {
            await js.DeleteStreamAsync("FACTS_TRANSFORM", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_consumer_with_plural_FilterSubjects_gets_no_filter_on_2_9_10_and_the_singular_FilterSubject_works()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.ClientUrl);
        var js = new NatsJSContext(nats);
        await js.CreateStreamAsync(new StreamConfig("FACTS_FILTERS", ["fs.>"]) { NumReplicas = 3 }, timeout.Token);
        try
        {
            foreach (var subject in new[] { "fs.a", "fs.b", "fs.c" })
            {
                (await js.PublishAsync(subject, Encoding.UTF8.GetBytes(subject), cancellationToken: timeout.Token)).EnsureSuccess();
            }

            var plural = await js.CreateOrUpdateConsumerAsync(
                "FACTS_FILTERS", new ConsumerConfig("plural") { FilterSubjects = ["fs.a", "fs.b"], AckPolicy = ConsumerConfigAckPolicy.Explicit }, timeout.Token);
            var singular = await js.CreateOrUpdateConsumerAsync(
                "FACTS_FILTERS", new ConsumerConfig("singular") { FilterSubject = "fs.c", AckPolicy = ConsumerConfigAckPolicy.Explicit }, timeout.Token);

            Assert.Null(plural.Info.Config.FilterSubjects);
            Assert.Equal(3, (await FetchSubjectsAsync(plural, 3, timeout.Token)).Count);
            Assert.Equal(["fs.c"], await FetchSubjectsAsync(singular, 1, timeout.Token));
        }
        finally
        {
            await js.DeleteStreamAsync("FACTS_FILTERS", CancellationToken.None);
        }
    }

    // What a reader's retry rests on: a consumer create that timed out may have been carried out, and asking for the
    // same consumer again must neither fail nor start it over.
    [Fact]
    public async Task Creating_a_durable_consumer_again_with_the_same_config_keeps_it_as_it_was_and_a_new_start_is_refused()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.ClientUrl);
        var js = new NatsJSContext(nats);
        await js.CreateStreamAsync(new StreamConfig("FACTS_AGAIN", ["fa.>"]) { NumReplicas = 3 }, timeout.Token);
        try
        {
            for (var i = 1; i <= 6; i++)
            {
                (await js.PublishAsync("fa." + i.ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes("x"), cancellationToken: timeout.Token)).EnsureSuccess();
            }

            ConsumerConfig Config(ulong from) => new("again")
            {
                FilterSubject = "fa.>",
                DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
                OptStartSeq = from,
                AckPolicy = ConsumerConfigAckPolicy.All,
                AckWait = TimeSpan.FromMinutes(30),
                MaxAckPending = -1,
            };

            var first = await js.CreateOrUpdateConsumerAsync("FACTS_AGAIN", Config(2), timeout.Token);
            List<ulong> read = [];
            await foreach (var msg in first.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 2, Expires = TimeSpan.FromSeconds(2) }, cancellationToken: timeout.Token))
            {
                read.Add(msg.Metadata!.Value.Sequence.Stream);
            }

            Assert.Equal([2UL, 3UL], read);

            var again = await js.CreateOrUpdateConsumerAsync("FACTS_AGAIN", Config(2), timeout.Token);
            Assert.Equal(2UL, again.Info.Delivered.ConsumerSeq);
            await foreach (var msg in again.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 1, Expires = TimeSpan.FromSeconds(2) }, cancellationToken: timeout.Token))
            {
                Assert.Equal(4UL, msg.Metadata!.Value.Sequence.Stream);
                Assert.Equal(3UL, msg.Metadata!.Value.Sequence.Consumer);
            }

            await Assert.ThrowsAsync<NatsJSApiException>(async () => await js.CreateOrUpdateConsumerAsync("FACTS_AGAIN", Config(5), timeout.Token));
            Assert.Equal(3UL, (await js.GetConsumerAsync("FACTS_AGAIN", "again", timeout.Token)).Info.Delivered.ConsumerSeq);
        }
        finally
        {
            await js.DeleteStreamAsync("FACTS_AGAIN", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_per_key_TTL_is_refused_against_2_9_10_so_only_the_bucket_MaxAge_can_expire_a_lease()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.ClientUrl);
        var kv = new NatsKVContext(new NatsJSContext(nats));

        // Per-key TTL needs a bucket with limit markers (2.11's per-message TTL); NATS.Net sees the server's API
        // level and refuses the bucket, and a TTL on a plain bucket's key.
        var markers = await Assert.ThrowsAsync<NatsKVException>(() =>
            kv.CreateStoreAsync(new NatsKVConfig("facts_ttl_markers") { NumberOfReplicas = 3, LimitMarkerTTL = TimeSpan.FromSeconds(1) }, timeout.Token).AsTask());
        Assert.Contains("LimitMarkerTTL", markers.Message, StringComparison.Ordinal);

        var store = await kv.CreateStoreAsync(new NatsKVConfig("facts_ttl") { NumberOfReplicas = 3 }, timeout.Token);
        try
        {
            var perKey = await Assert.ThrowsAsync<NatsKVException>(() => store.CreateAsync("lease", "worker-a", TimeSpan.FromSeconds(1), cancellationToken: timeout.Token).AsTask());
            Assert.Contains("TTL", perKey.Message, StringComparison.Ordinal);
            Assert.False((await store.TryGetEntryAsync<string>("lease", cancellationToken: timeout.Token)).Success, "the refused create wrote the key anyway");
        }
        finally
        {
            await kv.DeleteStoreAsync("facts_ttl", CancellationToken.None);
        }
    }

    private static async Task<List<string>> FetchSubjectsAsync(INatsJSConsumer consumer, int count, CancellationToken cancellationToken)
    {
        var subjects = new List<string>();
        // More than the stream holds, with a short expiry: the fetch ends when the server has nothing more to give.
        await foreach (var msg in consumer.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = count + 5, Expires = TimeSpan.FromSeconds(2) }, cancellationToken: cancellationToken))
        {
            subjects.Add(msg.Subject);
            await msg.AckAsync(cancellationToken: cancellationToken);
        }

        return subjects;
    }

    /// <summary>FNV-1a, 32 bit, over the token's UTF-8 bytes: what nats-server's <c>partition()</c> hashes.</summary>
    private static uint Fnv1a32(string token)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(token))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return hash;
    }

    private Task<NatsConnection> ConnectAsync(string url) => Cluster.ConnectAsync(url, "printfarm-nats-facts");

    private async Task<List<MqttPrinter>> ConnectEveryNodeAsync()
    {
        var printers = new List<MqttPrinter>();
        foreach (var node in Cluster.Nodes)
        {
            printers.Add(await MqttPrinter.ConnectAsync(node));
        }

        return printers;
    }

    private static async Task DisposeAllAsync(IEnumerable<MqttPrinter> printers)
    {
        foreach (var printer in printers)
        {
            await printer.DisposeAsync();
        }
    }

    /// <summary>
    /// A subscription's interest reaches the other nodes over the routes a moment after it is made: publish a probe
    /// through every node's MQTT listener until each arrives, so no measured message races that propagation.
    /// </summary>
    private static async Task ProbeEveryNodeAsync(List<MqttPrinter> printers, INatsSub<byte[]> sub, CancellationToken cancellationToken)
    {
        foreach (var printer in printers)
        {
            var probe = $"probe-{Guid.NewGuid():N}";
            var arrived = false;
            while (!arrived)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await printer.PublishAsync($"printers/{probe}/status", probe, MqttQualityOfServiceLevel.AtLeastOnce);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    await NextAsync(sub, m => m.Data is { } d && Encoding.UTF8.GetString(d) == probe, wait.Token);
                    arrived = true;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Not yet routed: publish again.
                }
            }
        }
    }

    /// <summary>As <see cref="ProbeEveryNodeAsync"/>, for a stream: each node's probe must be stored before the measured publishes.</summary>
    private static async Task ProbeStreamFromEveryNodeAsync(List<MqttPrinter> printers, INatsJSStream stream, CancellationToken cancellationToken)
    {
        foreach (var printer in printers)
        {
            var probe = $"probe-{Guid.NewGuid():N}";
            var subject = $"parts.{Fnv1a32(probe) % NatsFactsFixture.Partitions}.printers.{probe}.status";
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                await printer.PublishAsync($"printers/{probe}/status", probe, MqttQualityOfServiceLevel.AtLeastOnce);
                try
                {
                    await stream.GetAsync(new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken);
                    break;
                }
                catch (NatsJSApiException ex) when (ex.Error.Code == 404 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(Eventually.PollInterval, cancellationToken);
                }
            }
        }
    }

    private static async Task<NatsMsg<byte[]>> NextAsync(INatsSub<byte[]> sub, Func<NatsMsg<byte[]>, bool> wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            var msg = await sub.Msgs.ReadAsync(cancellationToken);
            if (wanted(msg))
            {
                return msg;
            }
        }
    }

    private static List<NatsMsg<byte[]>> Drain(INatsSub<byte[]> sub)
    {
        var rest = new List<NatsMsg<byte[]>>();
        while (sub.Msgs.TryRead(out var msg))
        {
            rest.Add(msg);
        }

        return rest;
    }

    /// <summary>A printer speaking MQTT 3.1.1 to one node's MQTT listener.</summary>
    private sealed class MqttPrinter : IAsyncDisposable
    {
        private MqttPrinter(IMqttClient client) => Client = client;

        public IMqttClient Client { get; }

        public static MqttClientOptionsBuilder Options(NatsNode node) => new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", node.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId("printer-" + Guid.NewGuid().ToString("N"))
            .WithCleanSession(true)
            .WithTimeout(TimeSpan.FromSeconds(20));

        public static async Task<MqttPrinter> ConnectAsync(NatsNode node)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(Options(node).Build());
            return new MqttPrinter(client);
        }

        public async Task<MqttClientPublishResult> PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            return await Client.PublishAsync(
                new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build(),
                timeout.Token);
        }

        public async ValueTask DisposeAsync()
        {
            if (Client.IsConnected)
            {
                await Client.DisconnectAsync();
            }

            Client.Dispose();
        }
    }
}
