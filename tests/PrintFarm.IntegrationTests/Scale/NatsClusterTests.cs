using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>One 3-node cluster for all of <see cref="NatsClusterTests"/>; each test leaves all three nodes running.</summary>
public sealed class NatsClusterFixture : IAsyncLifetime
{
    public NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The <see cref="NatsCluster"/> fixture does what the failure tests of issue 20 need: a node killed, stopped or
/// paused really is out (an R3 stream carries on with the other two), and one restarted or resumed rejoins and
/// catches up its replica.
/// </summary>
public sealed class NatsClusterTests(NatsClusterFixture fixture) : IClassFixture<NatsClusterFixture>
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(90);

    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_killed_stream_leader_is_replaced_and_its_restarted_node_catches_up()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync();
        var js = new NatsJSContext(nats);
        await js.CreateStreamAsync(new StreamConfig("CTRL_KILL", ["ctrl.kill.>"]) { NumReplicas = 3 }, timeout.Token);
        try
        {
            await PublishAsync(js, "ctrl.kill", 0, 10, timeout.Token);
            var leader = await Cluster.StreamLeaderAsync("CTRL_KILL") ?? throw new InvalidOperationException($"no leader for CTRL_KILL:\n{Cluster.Logs}");

            await Cluster.KillNodeAsync(leader.Index);
            Assert.False(leader.IsRunning);
            await PublishAsync(js, "ctrl.kill", 10, 10, timeout.Token);
            var successor = await Cluster.StreamLeaderAsync("CTRL_KILL");
            Assert.NotNull(successor);
            Assert.NotEqual(leader.Name, successor.Name);

            await Cluster.RestartNodeAsync(leader.Index);
            await Eventually.Until(() => Cluster.StreamMessagesOnAsync(leader, "CTRL_KILL"), n => n == 20, $"{leader.Name}'s replica to catch up to 20 messages");
        }
        finally
        {
            await RunningAgainAsync();
            await js.DeleteStreamAsync("CTRL_KILL", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_paused_node_falls_behind_while_the_other_two_go_on_and_catches_up_when_resumed()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using var nats = await ConnectAsync(Cluster.Nodes[0].ClientUrl); // node 1 is the one paused
        var js = new NatsJSContext(nats);
        await js.CreateStreamAsync(new StreamConfig("CTRL_PAUSE", ["ctrl.pause.>"]) { NumReplicas = 3 }, timeout.Token);
        try
        {
            await PublishAsync(js, "ctrl.pause", 0, 5, timeout.Token);
            var paused = Cluster.Nodes[1];
            await Eventually.Until(() => Cluster.StreamMessagesOnAsync(paused, "CTRL_PAUSE"), n => n == 5, $"{paused.Name} to hold the first 5 messages");

            Cluster.PauseNode(paused.Index);
            Assert.True(paused.IsPaused);
            await PublishAsync(js, "ctrl.pause", 5, 10, timeout.Token);
            // A frozen process answers nothing, its monitoring port included.
            Assert.Null(await Cluster.StreamMessagesOnAsync(paused, "CTRL_PAUSE"));

            Cluster.ResumeNode(paused.Index);
            await Eventually.Until(() => Cluster.StreamMessagesOnAsync(paused, "CTRL_PAUSE"), n => n == 15, $"{paused.Name}'s replica to catch up to 15 messages");
        }
        finally
        {
            await RunningAgainAsync();
            await js.DeleteStreamAsync("CTRL_PAUSE", CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_stopped_node_refuses_MQTT_and_after_a_restart_its_listener_acknowledges_QoS_1_again()
    {
        var node = Cluster.Nodes[2];
        try
        {
            await Cluster.StopNodeAsync(node.Index);
            Assert.False(node.IsRunning);
            using (var refused = new MqttClientFactory().CreateMqttClient())
            {
                await Assert.ThrowsAnyAsync<Exception>(() => refused.ConnectAsync(MqttOptions(node)));
            }

            await Cluster.RestartNodeAsync(node.Index);
            using var printer = new MqttClientFactory().CreateMqttClient();
            await printer.ConnectAsync(MqttOptions(node));
            var result = await printer.PublishAsync(
                new MqttApplicationMessageBuilder().WithTopic("printers/restarted/status").WithPayload("x").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.True(result.IsSuccess, $"{result.ReasonCode}:\n{Cluster.Logs}");
            await printer.DisconnectAsync();
        }
        finally
        {
            await RunningAgainAsync();
        }
    }

    private static MqttClientOptions MqttOptions(NatsNode node) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", node.MqttPort)
        .WithProtocolVersion(MqttProtocolVersion.V311)
        .WithClientId("printer-" + Guid.NewGuid().ToString("N"))
        .WithTimeout(TimeSpan.FromSeconds(20))
        .Build();

    /// <summary>
    /// Publishes <paramref name="count"/> messages with message ids, retrying each until acknowledged (a leader
    /// change in progress has no responder for a moment); the ids make a retried publish a duplicate, not a second
    /// message.
    /// </summary>
    private static async Task PublishAsync(NatsJSContext js, string prefix, int first, int count, CancellationToken cancellationToken)
    {
        for (var i = first; i < first + count; i++)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                try
                {
                    var ack = await js.PublishAsync($"{prefix}.{i}", Encoding.UTF8.GetBytes($"m{i}"), opts: new NatsJSPubOpts { MsgId = $"{prefix}-{i}" }, cancellationToken: cancellationToken);
                    ack.EnsureSuccess();
                    break;
                }
                catch (NatsException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(Eventually.PollInterval, cancellationToken);
                }
            }
        }
    }

    private Task<NatsConnection> ConnectAsync(string? url = null) => Cluster.ConnectAsync(url, "printfarm-nats-cluster-tests");

    /// <summary>Leaves all nodes running and the cluster healthy for the next test, whatever this one did.</summary>
    private async Task RunningAgainAsync()
    {
        foreach (var node in Cluster.Nodes)
        {
            if (node.IsPaused)
            {
                Cluster.ResumeNode(node.Index);
            }
            else if (!node.IsRunning)
            {
                await Cluster.RestartNodeAsync(node.Index);
            }
        }

        await Cluster.WaitUntilHealthyAsync();
    }
}
