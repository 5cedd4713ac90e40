using Microsoft.Extensions.Logging;

namespace PrintFarm.Worker.Diagnostics;

// Journal damage and full-disk commits (issue 18, items 1 and 5). EventIds 300-349.
internal static partial class Log
{
    [LoggerMessage(300, LogLevel.Error, "Journal segment {Path} is damaged: {Bytes} bytes at offset {Offset} fail their checksum and are followed by valid records (disk corruption, not a torn write). The bytes are kept in the segment and copied to {Quarantine}; reading goes on at offset {Next}. The messages in that range are lost; /readyz reports the journal degraded until the file is acknowledged (rename it to *.bad.acked or move it out of the quarantine folder)")]
    public static partial void JournalDamaged(ILogger logger, string path, long bytes, long offset, long next, string quarantine);

    [LoggerMessage(301, LogLevel.Warning, "Journal segment {Path} still holds the damaged range of {Bytes} bytes at offset {Offset}, acknowledged as {Quarantine}; skipped")]
    public static partial void JournalDamageAcknowledged(ILogger logger, string path, long bytes, long offset, string quarantine);

    [LoggerMessage(302, LogLevel.Error, "Journal segment {Path} is damaged: {Bytes} bytes at offset {Offset} fail their checksum, and copying them to {Quarantine} failed; they stay in the segment and /readyz reports the journal degraded until the worker restarts")]
    public static partial void JournalQuarantineFailed(ILogger logger, Exception exception, string path, long bytes, long offset, string quarantine);

    [LoggerMessage(303, LogLevel.Warning, "A journal group of {Bytes} bytes ({Messages} messages) could not be written whole ({Reason}); committing it in parts of at most {PartBytes} bytes")]
    public static partial void JournalGroupSplit(ILogger logger, int bytes, int messages, string reason, int partBytes);

    [LoggerMessage(304, LogLevel.Information, "Journal commits succeed again after failing for {Duration}")]
    public static partial void JournalCommitsResumed(ILogger logger, TimeSpan duration);
}
