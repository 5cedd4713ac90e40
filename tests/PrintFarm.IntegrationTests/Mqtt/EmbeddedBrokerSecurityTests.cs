using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// Issue 18 item 12: the embedded broker is closed by default, as Mosquitto 2 is. Real MQTTnet clients against the
/// worker's embedded broker: with no credentials it listens on loopback only and refuses anonymous clients from the
/// network even when bound to every interface; a printer user publishes only under its own topics and cannot read
/// <c>#</c>; nobody takes over the worker's client ids; printers can connect with TLS.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class EmbeddedBrokerSecurityTests(ServicesFixture services)
{
    private const string PasswordA = "pa-" + "0123456789";
    private const string PasswordB = "pb-" + "0123456789";
    private const string FarmPassword = "farm-" + "0123456789";

    [Fact]
    public async Task Without_credentials_the_broker_listens_on_loopback_only_and_refuses_anonymous_clients_from_the_network()
    {
        var port = ServerProcess.FreePort();
        await using (var worker = await WorkerHost.StartAsync(Settings(port)))
        {
            var listeners = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Where(l => l.Port == port).ToList();
            Assert.NotEmpty(listeners);
            Assert.All(listeners, l => Assert.True(IPAddress.IsLoopback(l.Address), $"listening on {l.Address}"));

            // The demo's case: an anonymous printer on this host.
            using var local = await ConnectAsync("127.0.0.1", port, "local-printer", null, null);
            Assert.Equal(MqttClientConnectResultCode.Success, local.Code);
            if (NetworkAddress() is { } lan)
            {
                var (_, code, _) = await ConnectAsync(lan.ToString(), port, "lan-printer", null, null);
                Assert.Null(code); // nobody listens there
            }
        }

        // Bound to every interface on purpose, still without credentials: an anonymous client from the network is refused.
        if (NetworkAddress() is { } address)
        {
            var settings = Settings(port);
            settings["PrintFarm:Mqtt:EmbeddedBroker:Address"] = "*";
            await using var worker = await WorkerHost.StartAsync(settings);
            using var remote = await ConnectAsync(address.ToString(), port, "lan-printer", null, null);
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, remote.Code);
            Assert.Contains(worker.Logs.Entries, e => e.Message.Contains("anonymous clients from the network are refused", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Bound_to_one_address_of_the_host_the_worker_still_connects_to_its_own_broker()
    {
        var address = NetworkAddress();
        if (address is null)
        {
            return; // a host with loopback only: nothing to bind to
        }

        var port = ServerProcess.FreePort();
        var settings = WithCredentials(Settings(port));
        settings["PrintFarm:Mqtt:EmbeddedBroker:Address"] = address.ToString();
        await using var worker = await WorkerHost.StartAsync(settings);
        using var a = await ConnectAsync(address.ToString(), port, "pa-client", "pA", PasswordA);
        Assert.Equal(MqttClientConnectResultCode.Success, a.Code);
        await a.Client!.PublishAsync(Message("printfarm/pA/event", "bound", 60));
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.messages.received")), n => n >= 1, "pA's message through the bound address");
    }

    [Fact]
    public async Task A_printer_publishes_only_under_its_own_topics_and_cannot_read_everything()
    {
        var port = ServerProcess.FreePort();
        await using var worker = await WorkerHost.StartAsync(WithCredentials(Settings(port)));

        // Anonymous clients are refused once credentials are configured, from loopback too.
        using (var anonymous = await ConnectAsync("127.0.0.1", port, "anon", null, null))
        {
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, anonymous.Code);
        }

        using var a = await ConnectAsync("127.0.0.1", port, "pa-client", "pA", PasswordA);
        Assert.Equal(MqttClientConnectResultCode.Success, a.Code);

        // pA forges a job of pB (the 36,000 s print of the issue): refused, never ingested.
        var forged = await a.Client!.PublishAsync(Message("printfarm/pB/event", "forged", 36_000));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        var alert = await a.Client.PublishAsync(Message("printfarm/alerts/printer_stopped_reporting/printer/pB", "alert", 1));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, alert.ReasonCode);
        var own = await a.Client.PublishAsync(Message("printfarm/pA/event", "own", 60));
        Assert.True(own.IsSuccess, own.ReasonCode.ToString());
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.messages.received")), n => n >= 1, "pA's own message received");
        Assert.Equal(1, worker.Counter("printfarm.mqtt.messages.received")); // the forged one, sent first on the same connection, did not arrive

        // pA reads its own topics only.
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(a.Client, "#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(a.Client, "printfarm/+/event"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(a.Client, "printfarm/pB/event"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(a.Client, "printfarm/pA/#"));

        // The shared farm user: any one printer's topics, never all of them, no alerts.
        using var farm = await ConnectAsync("127.0.0.1", port, "dashboard", "farm", FarmPassword);
        Assert.Equal(MqttClientConnectResultCode.Success, farm.Code);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(farm.Client!, "#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(farm.Client!, "+/klipper/status"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(farm.Client!, "printfarm/pB/event"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(farm.Client!, "printfarm/alerts/#"));
        var farmAlert = await farm.Client!.PublishAsync(Message("printfarm/alerts/x/printer/pA", "alert", 1));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, farmAlert.ReasonCode);

        // Wrong passwords and a printer's name with another's password are refused.
        using (var wrong = await ConnectAsync("127.0.0.1", port, "pb-client", "pB", PasswordA))
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.Code);
        }
    }

    [Fact]
    public async Task No_client_can_take_over_the_worker_client_ids()
    {
        var port = ServerProcess.FreePort();
        var settings = WithCredentials(Settings(port));
        var clientId = settings["PrintFarm:Mqtt:ClientId"]!;
        await using var worker = await WorkerHost.StartAsync(settings);
        var connects = worker.Counter("printfarm.mqtt.connects[result=ok]");

        foreach (var (id, user, password) in new[] { (clientId, (string?)null, (string?)null), (clientId, "farm", FarmPassword), (clientId, "pA", PasswordA), (clientId + "-alerts", "farm", FarmPassword), ("intruder", "printfarm-worker", "guess") })
        {
            using var intruder = await ConnectAsync("127.0.0.1", port, id, user, password);
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, intruder.Code);
        }

        // The worker was never knocked off: still one connection, still ingesting.
        using var a = await ConnectAsync("127.0.0.1", port, "pa-client", "pA", PasswordA);
        await a.Client!.PublishAsync(Message("printfarm/pA/event", "after", 60));
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.messages.received")), n => n >= 1, "a message after the attempts");
        Assert.Equal(connects, worker.Counter("printfarm.mqtt.connects[result=ok]"));
    }

    [Fact]
    public async Task With_a_certificate_printers_connect_with_TLS_and_the_plain_port_stays_on_loopback()
    {
        var folder = ServerProcess.NewFolder("embedded-tls");
        var pki = TestPki.Create(folder);
        var port = ServerProcess.FreePort();
        var tlsPort = ServerProcess.FreePort();
        var settings = WithCredentials(Settings(port));
        settings["PrintFarm:Mqtt:EmbeddedBroker:TlsPort"] = tlsPort.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Mqtt:EmbeddedBroker:CertificateFile"] = pki.ServerCertificateFile;
        settings["PrintFarm:Mqtt:EmbeddedBroker:CertificateKeyFile"] = pki.ServerKeyFile;
        await using var worker = await WorkerHost.StartAsync(settings);

        var plain = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Where(l => l.Port == port).ToList();
        Assert.All(plain, l => Assert.True(IPAddress.IsLoopback(l.Address), $"plain listener on {l.Address}"));

        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(pki.CaFile));
        var tls = new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost("localhost")
            .WithTrustChain([ca])
            .WithCertificateValidationHandler(c =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return c.SslPolicyErrors is System.Net.Security.SslPolicyErrors.None or System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors
                    && chain.Build(new X509Certificate2(c.Certificate));
            })
            .Build();
        using var a = await ConnectAsync("localhost", tlsPort, "pa-tls", "pA", PasswordA, tls);
        Assert.Equal(MqttClientConnectResultCode.Success, a.Code);
        var own = await a.Client!.PublishAsync(Message("printfarm/pA/event", "tls", 60));
        Assert.True(own.IsSuccess, own.ReasonCode.ToString());
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.messages.received")), n => n >= 1, "the message sent over TLS");
    }

    private Dictionary<string, string?> Settings(int port)
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Mqtt:EmbeddedBroker:Enabled"] = "true";
        settings["PrintFarm:Mqtt:EmbeddedBroker:Port"] = port.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = "embedded_security";
        return settings;
    }

    private static Dictionary<string, string?> WithCredentials(Dictionary<string, string?> settings)
    {
        settings["PrintFarm:Mqtt:EmbeddedBroker:Username"] = "farm";
        settings["PrintFarm:Mqtt:EmbeddedBroker:Password"] = FarmPassword;
        settings["PrintFarm:Mqtt:EmbeddedBroker:Printers:pA:Password"] = PasswordA;
        settings["PrintFarm:Mqtt:EmbeddedBroker:Printers:pB:Password"] = PasswordB;
        return settings;
    }

    private static MqttApplicationMessage Message(string topic, string job, int printTime) => new MqttApplicationMessageBuilder()
        .WithTopic(topic)
        .WithPayload($$"""{"type":"job_finished","ts":"2026-01-05T09:00:00Z","job_id":"{{job}}","outcome":"completed","file":"a.gcode","print_time_s":{{printTime}}}""")
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .Build();

    private static async Task<MqttClientSubscribeResultCode> SubscribeAsync(IMqttClient client, string filter)
    {
        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return Assert.Single(result.Items).ResultCode;
    }

    /// <summary>An address of this machine that is not loopback, if it has one.</summary>
    private static IPAddress? NetworkAddress() => NetworkInterface.GetAllNetworkInterfaces()
        .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
        .SelectMany(n => n.GetIPProperties().UnicastAddresses)
        .Select(a => a.Address)
        .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));

    /// <summary>Connects an MQTT 5 client; the CONNACK code, or null when nothing accepted the TCP connection.</summary>
    private static async Task<Connection> ConnectAsync(string host, int port, string clientId, string? user, string? password, MqttClientTlsOptions? tls = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder.WithCredentials(user, password);
        }

        if (tls is not null)
        {
            builder.WithTlsOptions(tls);
        }

        try
        {
            var result = await client.ConnectAsync(builder.Build());
            return new Connection(client, result.ResultCode, result.ReasonString);
        }
        catch (MqttCommunicationException ex)
        {
            client.Dispose();
            return new Connection(null, null, ex.Message);
        }
    }

    private sealed record Connection(IMqttClient? Client, MqttClientConnectResultCode? Code, string? Error) : IDisposable
    {
        public void Dispose() => Client?.Dispose();
    }
}
