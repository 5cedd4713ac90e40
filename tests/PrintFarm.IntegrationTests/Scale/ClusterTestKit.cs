using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>What the clustered-mode tests share: printers publishing to the cluster's nodes, and the per-printer check.</summary>
internal static class ClusterPublisher
{
    // Printers publish in event-time order, QoS 1, each printer to one node (printer i to node i mod 3), several at once.
    public static async Task PublishAsync(NatsCluster cluster, IEnumerable<(string Topic, object Payload)> messages)
    {
        var byPrinter = messages.GroupBy(m => m.Topic).ToList();
        await Parallel.ForEachAsync(
            byPrinter.Select((g, i) => (Node: cluster.Nodes[i % cluster.Nodes.Count], Messages: g.ToList())),
            new ParallelOptions { MaxDegreeOfParallelism = 4 },
            (printer, cancellationToken) => new ValueTask(PublishOnOneConnectionAsync(printer.Node, printer.Messages, cancellationToken)));
    }

    /// <summary>
    /// The whole farm's messages in the order given (event-time order), one after the other on one connection: every
    /// partition, like a single worker, then sees its printers' messages in event-time order, so no watermark runs
    /// ahead of a printer and what a window counts does not depend on how the printers raced.
    /// </summary>
    public static Task PublishInOrderAsync(NatsCluster cluster, IEnumerable<(string Topic, object Payload)> messages) =>
        PublishOnOneConnectionAsync(cluster.Nodes[0], messages.ToList(), CancellationToken.None);

    private static async Task PublishOnOneConnectionAsync(NatsNode node, IReadOnlyList<(string Topic, object Payload)> messages, CancellationToken cancellationToken)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", node.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId("printer-" + Guid.NewGuid().ToString("N"))
            .WithTimeout(TimeSpan.FromSeconds(20))
            .Build();

        // A node sets up each new MQTT session in its R3 session stream; while several connect at once it
        // can close a connection before CONNACK. A printer connects again, as real ones do.
        await Eventually.Until(
            async () =>
            {
                try
                {
                    await client.ConnectAsync(options, cancellationToken);
                    return true;
                }
                catch (MQTTnet.Adapter.MqttConnectingFailedException)
                {
                    return false;
                }
                catch (MQTTnet.Exceptions.MqttCommunicationException)
                {
                    return false;
                }
            },
            connected => connected,
            $"printer of {messages[0].Topic} to connect to {node.Name}",
            TimeSpan.FromSeconds(30));
        foreach (var (topic, payload) in messages)
        {
            // QoS 1 as a printer does it: without a PUBACK (the node closed the connection), connect again and
            // send the message again.
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(JsonSerializer.Serialize(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            await Eventually.Until(
                async () =>
                {
                    try
                    {
                        if (!client.IsConnected)
                        {
                            await client.ConnectAsync(options, cancellationToken);
                        }

                        return (await client.PublishAsync(message, cancellationToken)).IsSuccess;
                    }
                    catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException)
                    {
                        return false;
                    }
                },
                acknowledged => acknowledged,
                $"the PUBACK of {topic} from {node.Name}",
                TimeSpan.FromSeconds(30));
        }

        await client.DisconnectAsync(cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Polls until every job has its <c>job</c> point, whole, and then requires exactly one per job and no other:
    /// the (printer, end) pairs of the points are the jobs' own, none missing, none twice. Returns the points.
    /// </summary>
    public static async Task<IReadOnlyList<Dictionary<string, JsonElement>>> AssertEveryJobOnceAsync(InfluxDbServer influx, string database, IReadOnlyCollection<(string Printer, DateTimeOffset End)> jobs)
    {
        var rows = await Eventually.Until(
            () => influx.QueryAsync(database, "SELECT * FROM job"),
            r => r.Count >= jobs.Count && r.All(InfluxRowExtensions.IsWholeJobPoint),
            $"every job's point ({jobs.Count})",
            TimeSpan.FromSeconds(60),
            describe: r => r.Format());
        Assert.Equal(jobs.Order(), rows.Select(r => (r.Text("printer")!, r.Time())).Order());
        return rows;
    }

    /// <summary><see cref="AssertEveryJobOnceAsync(InfluxDbServer, string, IReadOnlyCollection{ValueTuple{string, DateTimeOffset}})"/>, then every printer's day as the trace says.</summary>
    public static async Task AssertEveryJobOnceAsync(InfluxDbServer influx, string database, List<TraceJob> jobs)
    {
        await AssertEveryJobOnceAsync(influx, database, jobs.Select(j => (j.Printer, j.End)).ToList());
        await AssertPrinterKpisAsync(influx, database, jobs);
    }

    // Every printer's day: the sums a single worker writes for it (NativeTrace.Expect, the definitions of docs/kpis.md).
    public static async Task AssertPrinterKpisAsync(InfluxDbServer influx, string database, List<TraceJob> jobs)
    {
        foreach (var printer in jobs.Select(j => j.Printer).Distinct())
        {
            var expected = NativeTrace.Expect(jobs.Where(j => j.Printer == printer));
            var ended = expected.JobsCompleted + expected.JobsFailed + expected.JobsCancelled;
            var day = await Eventually.Until(
                () => influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"window\" = '1d' AND \"scope\" = 'printer' AND \"printer\" = '{printer}'"),
                rows => rows.Count == 1 && rows[0].Number("jobs_completed") + rows[0].Number("jobs_failed") + rows[0].Number("jobs_cancelled") >= ended,
                $"{printer}'s day with all {ended} jobs",
                TimeSpan.FromSeconds(30),
                describe: rows => rows.Format());
            Assert.Equal(expected.JobsCompleted, day[0].Number("jobs_completed"));
            Assert.Equal(expected.JobsFailed, day[0].Number("jobs_failed"));
            Assert.Equal(expected.JobsCancelled, day[0].Number("jobs_cancelled"));
            Assert.Equal(expected.ToysCompleted, day[0].Number("toys_completed"));
            Assert.Equal(expected.PrintTime, day[0].Number("print_time_s"), 6);
            Assert.Equal(expected.FilamentUsed, day[0].Number("filament_used_g"), 6);
            Assert.Equal(expected.FilamentWaste, day[0].Number("filament_waste_g"), 6);
        }
    }
}

/// <summary>A test's own stream and buckets in the shared cluster.</summary>
internal sealed record Names(string Stream, string Bucket)
{
    public static Names New(string test)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        return new Names($"PF_{test}_{id}", $"pf_checkpoints_{test}_{id}");
    }

    // The stream's subjects (parts.>) would overlap the next test's stream: every test removes its own.
    public async Task DeleteAsync(NatsCluster cluster)
    {
        await using var nats = await cluster.ConnectAsync(name: "printfarm-tests-cleanup");
        var js = new NatsJSContext(nats);
        try
        {
            await js.DeleteStreamAsync(Stream, CancellationToken.None);
        }
        catch (NatsJSApiException)
        {
            // Never created.
        }

        foreach (var bucket in new[] { Bucket, Bucket + "_leases" })
        {
            try
            {
                await new NatsKVContext(js).DeleteStoreAsync(bucket, CancellationToken.None);
            }
            catch (NatsJSApiException)
            {
                // Never created.
            }
        }
    }
}
