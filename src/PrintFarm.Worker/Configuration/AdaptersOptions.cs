using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.OctoPrint;

namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Settings under <c>PrintFarm:Adapters</c>: which printer formats the worker understands and on which topics.
/// Every adapter is enabled by default; the topic defaults are those of <c>docs/printers.md</c>.
/// </summary>
public sealed class AdaptersOptions
{
    /// <summary>The project's own schema (<c>PrintFarm:Adapters:Native</c>); its topics stay under <c>PrintFarm:Mqtt:NativeTopics</c>.</summary>
    public NativeAdapterSettings Native { get; set; } = new();

    /// <summary>OctoPrint's MQTT plugin (<c>PrintFarm:Adapters:OctoPrint</c>): <c>Enabled</c>, <c>EventTopic</c>, <c>ProgressTopic</c>, <c>TemperatureTopic</c>, <c>PresenceTopic</c>, <c>DefaultPrinter</c>.</summary>
    public OctoPrintAdapterOptions OctoPrint { get; set; } = new();

    /// <summary>Moonraker's <c>[mqtt]</c> component (<c>PrintFarm:Adapters:Moonraker</c>): <c>Enabled</c>, <c>StatusTopic</c>, <c>StateTopic</c>, <c>ServerTopic</c>.</summary>
    public MoonrakerAdapterOptions Moonraker { get; set; } = new();

    /// <summary>Bambu Lab reports (<c>PrintFarm:Adapters:Bambu</c>): <c>Enabled</c>, <c>ReportTopic</c>, <c>Printers</c> (serial → printer id).</summary>
    public BambuAdapterOptions Bambu { get; set; } = new();
}

/// <summary>Settings of the native adapter.</summary>
public sealed class NativeAdapterSettings
{
    /// <summary>Whether the worker registers the native adapter. Default true.</summary>
    public bool Enabled { get; set; } = true;
}
