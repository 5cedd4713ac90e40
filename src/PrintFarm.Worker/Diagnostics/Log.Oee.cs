using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>Log messages of printer time accounting and the maintenance switch (event ids 900–919).</summary>
internal static partial class Log
{
    [LoggerMessage(900, LogLevel.Information, "Maintenance of printer {Printer} set to {On} from {At:O} over HTTP; journaled as {Topic}")]
    public static partial void MaintenanceReceivedOverHttp(ILogger logger, string printer, bool on, DateTimeOffset at, string topic);

    [LoggerMessage(901, LogLevel.Warning, "Maintenance switch over HTTP for printer {Printer} refused: {Problem}")]
    public static partial void MaintenanceRefusedOverHttp(ILogger logger, string printer, string problem);

    [LoggerMessage(902, LogLevel.Warning, "Maintenance switch over HTTP for {Topic} was not journaled: {Problem}")]
    public static partial void MaintenanceNotJournaled(ILogger logger, string topic, string problem);
}
