using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>Log messages of failure reasons and operator labels (event ids 920–939).</summary>
internal static partial class Log
{
    [LoggerMessage(920, LogLevel.Information, "Label for job {Job} on printer {Printer} received over HTTP ({Reason}); journaled as {Topic}")]
    public static partial void LabelReceivedOverHttp(ILogger logger, string printer, string job, string reason, string topic);

    [LoggerMessage(921, LogLevel.Warning, "Label over HTTP for {Topic} is invalid ({Problem}); journaled anyway, so the pipeline dead-letters and counts it")]
    public static partial void LabelInvalidOverHttp(ILogger logger, string topic, string problem);

    [LoggerMessage(922, LogLevel.Warning, "Label over HTTP for {Topic} was not journaled: {Problem}")]
    public static partial void LabelNotJournaled(ILogger logger, string topic, string problem);
}
