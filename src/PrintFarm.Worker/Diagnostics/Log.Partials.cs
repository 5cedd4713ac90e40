using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// The clustered mode's partial KPIs and the farm alert stage (issue 20). EventIds 994–999.
internal static partial class Log
{
    [LoggerMessage(999, LogLevel.Information, "Clustered mode: each partition writes its share of the farm, toy and material KPIs with a partition tag, and the board and Grafana rules add the shares up; built-in alert rules (enabled: {Enabled}) judge printers only in each partition, and one worker at a time, the farm alert stage, judges the farm, toys and materials on the partitions' added-up sums (docs/scale-out.md, \"Farm-wide alerts\")")]
    public static partial void PartitionAlertsPrintersOnly(ILogger logger, bool enabled);

    [LoggerMessage(994, LogLevel.Information, "Worker {Worker} runs the farm alert stage: it judges farm, toy and material alerts on the sums of all {Partitions} partitions, resuming after {JudgedUntil} with {Firing} alert(s) firing")]
    public static partial void FarmAlertStageTaken(ILogger logger, string worker, string judgedUntil, int firing, int partitions);

    [LoggerMessage(995, LogLevel.Warning, "Worker {Worker} stopped running the farm alert stage ({Reason}); it judges nothing more, and the worker that takes the stage resumes from its last saved state")]
    public static partial void FarmAlertStageLost(ILogger logger, string worker, string reason);

    [LoggerMessage(996, LogLevel.Warning, "The farm alert stage failed a round ({Reason}); it tries again in {Delay}, judging nothing until it can read the partitions' sums")]
    public static partial void FarmAlertStageFailed(ILogger logger, string reason, TimeSpan delay);

    [LoggerMessage(997, LogLevel.Warning, "Partition {Partition} could not put its alert partials into KV bucket {Bucket} ({Reason}); {Pending} kept for the next flush, and the farm alert stage waits for them ({Suppressed} more suppressed)")]
    public static partial void PartialsPutFailed(ILogger logger, int partition, string bucket, string reason, int pending, long suppressed);
}
