using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Bambu;
using PrintFarm.Core.Ingestion.Moonraker;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Ingestion.OctoPrint;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Hosting;

/// <summary>
/// The enabled printer adapters, built once from <c>PrintFarm:Adapters</c>. A singleton, so that checkpointing can
/// reach the stateful ones (<see cref="ICheckpointableAdapter"/>) that the processor routes to.
/// </summary>
internal sealed class PrinterAdapters
{
    public PrinterAdapters(PrintFarmOptions o)
    {
        var a = o.Adapters;
        var all = new List<IPrinterAdapter>();

        // The operator's maintenance switch first: its topic has a fixed literal level, like the formats after native.
        if (o.Oee.Enabled) all.Add(new PrintFarm.Core.Ingestion.Maintenance.MaintenanceAdapter(o.Oee.MaintenanceTopic));

        // Routing takes the first adapter whose pattern matches, so the order only matters for overlapping custom
        // patterns: the native schema first, then the formats with fixed literal levels.
        if (a.Native.Enabled) all.Add(new NativeAdapter(o.Mqtt.EffectiveNativeTopics));
        if (a.OctoPrint.Enabled) all.Add(new OctoPrintAdapter(a.OctoPrint));
        if (a.Bambu.Enabled) all.Add(new BambuAdapter(a.Bambu));
        if (a.Moonraker.Enabled) all.Add(new MoonrakerAdapter(a.Moonraker));
        All = all;
    }

    public IReadOnlyList<IPrinterAdapter> All { get; }

    public IEnumerable<ICheckpointableAdapter> Checkpointable => All.OfType<ICheckpointableAdapter>();
}
