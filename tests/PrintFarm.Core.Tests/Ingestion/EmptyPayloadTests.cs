using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.OctoPrint;
using static PrintFarm.Core.Tests.Ingestion.AdapterTestKit;

namespace PrintFarm.Core.Tests.Ingestion;

public sealed class EmptyPayloadTests
{
    public static TheoryData<string> Topics() => new()
    {
        "octoPrint/op1/mqtt",
        "octoPrint/op1/progress/printing",
        "octoPrint/op1/event/PrintStarted",
        "k1/moonraker/status",
        "k1/klipper/state/print_stats/state",
        "k1/klipper/status",
        "device/01S00C123456789/report",
    };

    [Theory]
    [MemberData(nameof(Topics))]
    public void An_empty_payload_clears_a_retained_message_and_is_accepted_without_events(string topic)
    {
        var farm = new Farm([new OctoPrintAdapter(), new MoonrakerAdapter(), new BambuAdapter()]);

        var result = farm.Send(Message(topic, Array.Empty<byte>(), T0, retained: false));

        Assert.True(result.Accepted);
        Assert.Empty(farm.Lines);
        Assert.All(farm.Adapters.OfType<ICheckpointableAdapter>(), a => Assert.Null(a.SaveState()));
    }
}
