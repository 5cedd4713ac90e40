using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// The clustered mode's partial KPIs (issue 20, "KPIs stay exact"): EventId 999, the top of the cluster range.
internal static partial class Log
{
    [LoggerMessage(999, LogLevel.Information, "Clustered mode: each partition writes its share of the farm, toy and material KPIs with a partition tag, and the board and Grafana rules add the shares up; built-in alert rules (enabled: {Enabled}) judge printers only here, farm-, toy- and material-wide alerts come from the Grafana alert rules (docs/scale-out.md)")]
    public static partial void PartitionAlertsPrintersOnly(ILogger logger, bool enabled);
}
