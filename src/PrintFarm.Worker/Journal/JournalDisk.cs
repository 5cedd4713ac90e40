namespace PrintFarm.Worker.Journal;

/// <summary>
/// The journal's writes to its segment files: append at an offset, then <c>fsync</c>. One seam, so a test can make the
/// disk full (a short write, then <c>ENOSPC</c>, or little free space left) without a small mount.
/// </summary>
internal class JournalDisk
{
    /// <summary>Writes straight to the file.</summary>
    public static JournalDisk Default { get; } = new();

    /// <summary>Writes <paramref name="bytes"/> at <paramref name="offset"/> of <paramref name="segment"/> and makes them durable.</summary>
    public virtual void Append(FileStream segment, long offset, ReadOnlySpan<byte> bytes)
    {
        segment.Position = offset;
        segment.Write(bytes);
        segment.Flush(flushToDisk: true);
    }

    /// <summary>Bytes free for the journal on the disk holding <paramref name="folder"/>.</summary>
    public virtual long AvailableFreeSpace(string folder) => new DriveInfo(folder).AvailableFreeSpace;
}

/// <summary>Journal commits are failing: since when, the last error, and how many messages wait (not acknowledged).</summary>
internal sealed record JournalCommitFailure(DateTimeOffset Since, string Reason, int Messages);
