using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>A 3-node cluster of its own for <see cref="ClusterNodeFailureTests"/>, whose nodes the tests kill and restart.</summary>
public sealed class ClusterNodeFailureFixture : IAsyncLifetime
{
    public const int Partitions = 8;

    public NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync([NatsMapping.Partitioned(Partitions, prefix: "printfarm")]);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Issue 20, tests 3 and 4: NATS nodes fail under the clustered worker (in-process, the real host) while printers
/// publish MQTT 3.1.1 QoS 1 to the nodes (moving to a running node when theirs is down). Every message a node
/// PUBACKed is counted exactly once: every job has one point and every printer's day its exact sums
/// (docs/reliability.md, "Clustered mode").
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ClusterNodeFailureTests(ServicesFixture services, ClusterNodeFailureFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ClusterNodeFailureFixture>
{
    private static readonly TimeSpan RecoveryTime = TimeSpan.FromMinutes(2);

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private NatsCluster Cluster => fixture.Cluster;

    [Theory]
    [InlineData("partition stream")]
    [InlineData("$MQTT_msgs")]
    public async Task Killing_a_streams_leader_node_under_QoS_1_load_loses_and_doubles_no_PUBACKed_message(string which)
    {
        var names = Names.New("leader");
        var database = "cluster_leader_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var traces = Traces("kl", 12);
        var stream = which == "$MQTT_msgs" ? which : names.Stream;
        NatsNode? killed = null;
        try
        {
            await using var worker = await WorkerHost.StartAsync(Settings(names, database), waitForSubscription: false);
            using var logs = WarningsOnFailure(worker);
            var messages = traces.SelectMany(t => t.Messages()).ToList();
            var acknowledged = new StrongBox<int>();
            var publishing = ClusterPublisher.PublishAsync(Cluster, messages, acknowledged);

            // A third of the trace PUBACKed, then the leader of the stream dies without a goodbye.
            await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acknowledged.Value)), n => n >= messages.Count / 3, "a third of the messages PUBACKed", TimeSpan.FromSeconds(60));
            killed = await Eventually.Until(() => Cluster.StreamLeaderAsync(stream), l => l is not null, $"a leader for {stream}");
            await Cluster.KillNodeAsync(killed!.Index);
            await publishing;
            Assert.Equal(messages.Count, acknowledged.Value);

            // With the node still down: what two of three nodes hold is all there is.
            await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, database, traces.SelectMany(t => t.Jobs).ToList());
        }
        finally
        {
            try
            {
                if (killed is { IsRunning: false })
                {
                    await Cluster.RestartNodeAsync(killed.Index, RecoveryTime, serverOnly: true);
                }
            }
            finally
            {
                await names.DeleteAsync(Cluster);
            }
        }
    }

    [Fact]
    public async Task With_two_of_three_nodes_down_publishing_fails_visibly_readyz_says_why_and_after_the_restart_nothing_is_lost()
    {
        var names = Names.New("quorum");
        var database = "cluster_quorum_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var traces = Traces("kq", 6);
        var down = new List<int>();
        try
        {
            await using var worker = await WorkerHost.StartAsync(Settings(names, database), waitForSubscription: false);
            using var logs = WarningsOnFailure(worker);
            var readyz = new Uri(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!, "/readyz");
            var firstHalf = traces.SelectMany(t => t.Messages().Take(t.Messages().Count() / 2)).ToList();
            var rest = traces.SelectMany(t => t.Messages().Skip(t.Messages().Count() / 2)).ToList();
            await ClusterPublisher.PublishAsync(Cluster, firstHalf);
            await Eventually.Until(() => ClusterCheckAsync(readyz), c => c.Status == "Healthy", "readyz's cluster check healthy", TimeSpan.FromSeconds(30), describe: c => c.Description);

            foreach (var index in new[] { 1, 2 })
            {
                await Cluster.KillNodeAsync(index);
                down.Add(index);
            }

            // The one node left has no quorum: a QoS 1 publish to it gets no PUBACK (or the node refuses the session).
            var (acknowledged, detail) = await TryPublishOnceAsync(Cluster.Nodes[0], rest[0].Topic, rest[0].Payload);
            Assert.False(acknowledged, $"a node without quorum PUBACKed a QoS 1 message ({detail})");

            // Once the worker's connection has moved to the node still up (until then it says it is not connected), the
            // check names the streams without a leader.
            var check = await Eventually.Until(() => ClusterCheckAsync(readyz), c => c.Status == "Unhealthy" && !c.Description.StartsWith("not connected", StringComparison.Ordinal), "readyz's cluster check to say why", TimeSpan.FromSeconds(60), describe: c => c.Description);
            Assert.Matches("stream .* (has no leader|does not answer)", check.Description);

            foreach (var index in down.ToList())
            {
                down.Remove(index);
                await Cluster.RestartNodeAsync(index, RecoveryTime, serverOnly: true);
            }

            // The printers send again what got no PUBACK, then the rest of the day.
            await ClusterPublisher.PublishAsync(Cluster, rest);
            await ClusterPublisher.AssertEveryJobOnceAsync(services.Influx, database, traces.SelectMany(t => t.Jobs).ToList());
            await Eventually.Until(() => ClusterCheckAsync(readyz), c => c.Status == "Healthy", "readyz's cluster check healthy again", TimeSpan.FromSeconds(60), describe: c => c.Description);
        }
        finally
        {
            try
            {
                foreach (var index in down.Where(i => !Cluster.Nodes[i].IsRunning))
                {
                    await Cluster.RestartNodeAsync(index, RecoveryTime, serverOnly: true);
                }
            }
            finally
            {
                await names.DeleteAsync(Cluster);
            }
        }
    }

    // The worker's warnings and errors in the test's output when the test fails (disposed at the end of a passing one too).
    private Disposer WarningsOnFailure(WorkerHost worker) => new(() =>
    {
        foreach (var (level, category, message) in worker.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning))
        {
            output.WriteLine($"{level} {category}: {message}");
        }
    });

    private sealed class Disposer(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    private static async Task<(bool Acknowledged, string Detail)> TryPublishOnceAsync(NatsNode node, string topic, object payload)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", node.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId("printer-" + Guid.NewGuid().ToString("N"))
            .WithTimeout(TimeSpan.FromSeconds(8))
            .Build();
        try
        {
            await client.ConnectAsync(options);
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(JsonSerializer.Serialize(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            var result = await client.PublishAsync(message);
            return (result.IsSuccess, $"PUBACK {result.ReasonCode}");
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException or OperationCanceledException)
        {
            return (false, ex.GetType().Name + ": " + ex.Message);
        }
    }

    private static async Task<(string Status, string Description)> ClusterCheckAsync(Uri readyz)
    {
        try
        {
            using var response = await Http.GetAsync(readyz);
            var cluster = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("cluster");
            return (cluster.GetProperty("status").GetString()!, cluster.GetProperty("description").GetString() ?? string.Empty);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return ("unknown", ex.Message);
        }
    }

    private static List<NativeTrace> Traces(string prefix, int count) =>
        Enumerable.Range(0, count)
            .Select(i => new NativeTrace(prefix + i.ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..4], new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)))
            .ToList();

    private Dictionary<string, string?> Settings(Names names, string database) =>
        names.WorkerSettings(services, Cluster, database, ClusterNodeFailureFixture.Partitions, "0-7", TimeSpan.FromSeconds(1));
}
