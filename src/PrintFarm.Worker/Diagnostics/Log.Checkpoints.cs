using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// Checkpoints kept and restored, the data folder's lock (issue 18, items 2–4). EventIds 350–399.
internal static partial class Log
{
    [LoggerMessage(350, LogLevel.Error, "Checkpoint {Path} cannot be used ({Reason}); moved to {Aside}, trying the one before it")]
    public static partial void CheckpointUnusableMovedAside(ILogger logger, string path, string reason, string aside);

    [LoggerMessage(351, LogLevel.Error, "Checkpoint {Path} needs the journal from {Position}, but the journal starts at {Start}: it cannot be used")]
    public static partial void CheckpointBehindJournal(ILogger logger, string path, string position, string start);

    [LoggerMessage(352, LogLevel.Warning, "Restored the older checkpoint {Path} (saved at {SavedAt}) because the {Newer} newer one(s) could not be used; the journal is replayed from {Position}, so nothing is lost")]
    public static partial void CheckpointFellBack(ILogger logger, string path, string savedAt, int newer, string position);

    [LoggerMessage(353, LogLevel.Warning, "No checkpoint in {Folder} could be used; the journal {Journal} still holds every record from the first, so the state is rebuilt by replaying all of it")]
    public static partial void CheckpointRebuiltFromJournal(ILogger logger, string folder, string journal);

    [LoggerMessage(354, LogLevel.Error, "No usable checkpoint in {Folder} ({Why}) and the journal starts at {Start}: starting with empty state as PrintFarm:AcceptCheckpointLoss allows; the open KPI windows restart from zero and overwrite InfluxDB's points")]
    public static partial void CheckpointLossAccepted(ILogger logger, string folder, string why, string start);

    [LoggerMessage(355, LogLevel.Error, "Checkpoint {Path} cannot be used ({Reason}) and could not be moved aside either: {Error}")]
    public static partial void CheckpointMoveAsideFailed(ILogger logger, string path, string reason, string error);

    [LoggerMessage(356, LogLevel.Warning, "Deleting the old checkpoint {Path} failed ({Error}); the next checkpoint tries again")]
    public static partial void CheckpointDeleteFailed(ILogger logger, string path, string error);
}
