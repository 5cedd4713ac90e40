using System.Net;
using MQTTnet.Protocol;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Mqtt;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>The embedded broker's ACL (issue 18 item 12) over every adapter's default topics.</summary>
public sealed class EmbeddedBrokerAccessTests
{
    private static readonly string[] Patterns =
    [
        "printfarm/{printer}/event",
        "octoPrint/{printer}/event/{event}",
        "octoPrint/{printer}/progress/{progress}",
        "device/{printer}/report",
        "{printer}/klipper/status",
        "{printer}/klipper/state/{object}/{field}",
        "{printer}/moonraker/status",
    ];

    private static readonly IPEndPoint Loopback = new(IPAddress.Loopback, 50000);
    private static readonly IPEndPoint Lan = new(IPAddress.Parse("198.51.100.7"), 50000);

    private static EmbeddedBrokerAccess CreateSut(Action<EmbeddedBrokerOptions>? change = null)
    {
        var options = new EmbeddedBrokerOptions { Enabled = true, Username = "farm", Password = "farm-pw" };
        options.Printers["pA"] = new PrinterCredentialOptions { Password = "a-pw" };
        options.Printers["voron"] = new PrinterCredentialOptions { Password = "v-pw" };
        change?.Invoke(options);
        return new EmbeddedBrokerAccess(options, "internal-pw", ["worker", "worker-alerts"], Patterns, "printfarm/alerts");
    }

    [Theory]
    [InlineData("pA", "printfarm/pA/event", true)]
    [InlineData("pA", "printfarm/pB/event", false)]
    [InlineData("pA", "octoPrint/pA/event/PrintDone", true)]
    [InlineData("pA", "device/pA/request", true)] // Bambu: its own request topic, below its level
    [InlineData("voron", "voron/klipper/status", true)]
    [InlineData("voron", "voron/moonraker/api/response", true)]
    [InlineData("voron", "pA/klipper/status", false)]
    [InlineData("pA", "printfarm/alerts/printer_stopped_reporting/printer/pA", false)]
    [InlineData("farm", "printfarm/pB/event", true)]
    [InlineData("farm", "printfarm/alerts/x/printer/pA", false)]
    [InlineData("", "printfarm/pB/event", true)]
    [InlineData("worker-user", "printfarm/alerts/x/printer/pA", false)]
    public void MayPublish_keeps_a_printer_to_its_own_topics_and_everyone_but_the_worker_off_the_alerts(string user, string topic, bool allowed)
    {
        Assert.Equal(allowed, CreateSut().MayPublish(user == "worker-user" ? "someone" : user, topic));
    }

    [Theory]
    [InlineData("pA", "#", false)]
    [InlineData("pA", "printfarm/#", false)]
    [InlineData("pA", "printfarm/+/event", false)]
    [InlineData("pA", "printfarm/pA/#", true)]
    [InlineData("pA", "device/pA/+", true)]
    [InlineData("farm", "#", false)]
    [InlineData("farm", "+/klipper/status", false)]
    [InlineData("farm", "octoPrint/+/event/+", false)]
    [InlineData("farm", "printfarm/pB/event", true)]
    [InlineData("farm", "pA/klipper/#", true)]
    [InlineData("farm", "printfarm/alerts/#", true)]
    [InlineData("", "device/#", false)]
    [InlineData("printfarm-worker", "#", true)]
    public void MaySubscribe_refuses_filters_that_read_more_than_one_printer_to_all_but_the_worker(string user, string filter, bool allowed)
    {
        Assert.Equal(allowed, CreateSut().MaySubscribe(user, filter));
    }

    [Fact]
    public void Authenticate_reserves_the_worker_client_ids_and_refuses_anonymous_clients_from_the_network()
    {
        var sut = CreateSut();
        Assert.Equal(MqttConnectReasonCode.Success, sut.Authenticate("worker", EmbeddedBrokerAccess.InternalUser, "internal-pw", Loopback).Code);
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, sut.Authenticate("worker", EmbeddedBrokerAccess.InternalUser, "internal-pw", Lan).Code);
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, sut.Authenticate("worker", "farm", "farm-pw", Loopback).Code);
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, sut.Authenticate("worker-alerts", null, null, Loopback).Code);
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, sut.Authenticate("other", EmbeddedBrokerAccess.InternalUser, "internal-pw", Loopback).Code);
        Assert.Equal(MqttConnectReasonCode.Success, sut.Authenticate("p", "pA", "a-pw", Lan).Code);
        Assert.Equal(MqttConnectReasonCode.BadUserNameOrPassword, sut.Authenticate("p", "pA", "v-pw", Lan).Code);
        Assert.Equal(MqttConnectReasonCode.BadUserNameOrPassword, sut.Authenticate("p", "nobody", "x", Lan).Code);

        // Credentials configured: anonymous refused everywhere. None: from loopback only. AllowAnonymous: from anywhere.
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, sut.Authenticate("a", null, null, Loopback).Code);
        var open = CreateSut(o => { o.Username = null; o.Password = null; o.Printers.Clear(); });
        Assert.Equal(MqttConnectReasonCode.Success, open.Authenticate("a", null, null, Loopback).Code);
        Assert.Equal(MqttConnectReasonCode.NotAuthorized, open.Authenticate("a", null, null, Lan).Code);
        Assert.Equal(MqttConnectReasonCode.Success, CreateSut(o => o.AllowAnonymous = true).Authenticate("a", null, null, Lan).Code);
    }
}
