using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>Where reading goes on after a damaged range: the offset of the next whole, valid record and its sequence.</summary>
internal readonly record struct JournalResume(long Offset, long Sequence);

/// <summary>
/// Damage inside the durable part of the journal (issue 18, item 1), handled as etcd's WAL does: only a torn tail — a
/// bad record with no valid record after it in the last segment — is cut; a bad record with valid records after it is
/// corruption. Its bytes are kept: the segment is left as it is, the damaged range is copied to
/// <c>{journal}/quarantine/{segment:D20}-{offset}.bad</c>, and reading goes on at the next valid record, found by a
/// record scan (length, a plausible sequence, CRC-32). Each range is counted once per process
/// (<c>printfarm.journal.corrupt_bytes</c>) and logged at error level; <c>/readyz</c> reports the journal degraded while
/// a <c>.bad</c> file is in the quarantine folder. An operator acknowledges a range by renaming its file (any other
/// extension, e.g. <c>.bad.acked</c>) or moving it away.
/// </summary>
internal sealed class JournalQuarantine
{
    /// <summary>The extension of a quarantined range not yet acknowledged.</summary>
    public const string Extension = ".bad";

    /// <summary>What an acknowledged range is renamed to (documented; any other name works too).</summary>
    public const string AcknowledgedExtension = ".bad.acked";

    private const int Window = 1 << 20;
    private const int Probe = JournalCodec.HeaderBytes + 8;

    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Dictionary<(long Segment, long Offset), (long End, JournalResume? Resume)> _known = [];
    private long _damagedBytes;
    private int _unsaved;

    public JournalQuarantine(string journalFolder, PrintFarmInstrumentation metrics, ILogger logger)
    {
        Folder = Path.Combine(journalFolder, "quarantine");
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The quarantine folder, <c>{journal}/quarantine</c>.</summary>
    public string Folder { get; }

    /// <summary>Damaged bytes found by this process.</summary>
    public long DamagedBytes => Interlocked.Read(ref _damagedBytes);

    /// <summary>Quarantined ranges not yet acknowledged (their <c>.bad</c> files), plus ranges whose copy could not be written.</summary>
    public IReadOnlyList<string> Unacknowledged()
    {
        List<string> files = [];
        try
        {
            if (Directory.Exists(Folder))
            {
                files.AddRange(Directory.EnumerateFiles(Folder, "*" + Extension).Select(Path.GetFileName).Order(StringComparer.Ordinal)!);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            files.Add($"(quarantine folder unreadable: {ex.Message})");
        }

        var unsaved = Volatile.Read(ref _unsaved);
        if (unsaved > 0)
        {
            files.Add($"({unsaved} damaged ranges whose copy could not be written)");
        }

        return files;
    }

    /// <summary>
    /// Handles a record at <paramref name="offset"/> of a segment that failed its checks: finds the next valid record
    /// before <paramref name="limit"/> and quarantines the bytes up to it (or up to <paramref name="limit"/> when there
    /// is none). With <paramref name="tailMayBeTorn"/> (the last segment, at open) a range with no valid record after it
    /// is a torn write: nothing is quarantined and null is returned, for the caller to cut it. Null also when no valid
    /// record follows in a segment that cannot be torn (the range is quarantined to <paramref name="limit"/>).
    /// </summary>
    public JournalResume? Skip(string segmentPath, long segment, long offset, long limit, long expectedSequence, bool tailMayBeTorn)
    {
        lock (_gate)
        {
            if (_known.TryGetValue((segment, offset), out var known) && known.End <= limit)
            {
                return known.Resume;
            }
        }

        JournalResume? resume;
        using (var file = File.OpenHandle(segmentPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            resume = FindNext(file, offset, limit, expectedSequence);
            if (resume is null && tailMayBeTorn)
            {
                return null;
            }

            var end = resume?.Offset ?? limit;
            Keep(file, segmentPath, segment, offset, end);
            lock (_gate)
            {
                _known[(segment, offset)] = (end, resume);
            }
        }

        return resume;
    }

    /// <summary>
    /// Reads the whole, valid record at <paramref name="offset"/> (at most up to <paramref name="limit"/>): its length
    /// and sequence; false when there is none there.
    /// </summary>
    public static bool TryReadRecord(SafeFileHandle file, long offset, long limit, ref byte[] buffer, out int length, out long sequence)
    {
        length = 0;
        sequence = 0;
        if (offset + JournalCodec.HeaderBytes > limit)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[JournalCodec.HeaderBytes];
        if (ReadFully(file, header, offset) < header.Length || !JournalCodec.TryReadLength(header, out var body) || offset + JournalCodec.HeaderBytes + body > limit)
        {
            return false;
        }

        var total = JournalCodec.HeaderBytes + body;
        if (buffer.Length < total)
        {
            buffer = new byte[Math.Max(total, buffer.Length * 2)];
        }

        if (ReadFully(file, buffer.AsSpan(0, total), offset) < total || !JournalCodec.TryDecode(buffer.AsMemory(0, total), null, copyPayload: false, out var record))
        {
            return false;
        }

        length = total;
        sequence = record.Sequence;
        return true;
    }

    /// <summary>
    /// The first whole, valid record after <paramref name="from"/> and before <paramref name="limit"/>. A candidate must
    /// carry a sequence the records lost in between can explain (at least <paramref name="expectedSequence"/>, at most one
    /// more per <see cref="JournalCodec.MinRecordBytes"/> skipped), so random bytes that look like a header are passed
    /// over without checksumming whatever length they claim.
    /// </summary>
    public static JournalResume? FindNext(SafeFileHandle file, long from, long limit, long expectedSequence)
    {
        var window = new byte[Window + Probe];
        byte[] record = [];
        for (var start = from + 1; start + JournalCodec.MinRecordBytes <= limit; start += Window)
        {
            var got = ReadFully(file, window.AsSpan(0, (int)Math.Min(window.Length, limit - start)), start);
            for (var i = 0; i < Window && i + Probe <= got; i++)
            {
                var length = BinaryPrimitives.ReadUInt32LittleEndian(window.AsSpan(i));
                if (length < JournalCodec.MinRecordBytes - JournalCodec.HeaderBytes || length > JournalCodec.MaxBodyBytes)
                {
                    continue;
                }

                var offset = start + i;
                if (offset + JournalCodec.HeaderBytes + length > limit)
                {
                    continue;
                }

                var sequence = BinaryPrimitives.ReadInt64LittleEndian(window.AsSpan(i + JournalCodec.HeaderBytes));
                if (sequence < expectedSequence || sequence > expectedSequence + ((offset - from) / JournalCodec.MinRecordBytes) + 1)
                {
                    continue;
                }

                if (TryReadRecord(file, offset, limit, ref record, out _, out var found) && found == sequence)
                {
                    return new JournalResume(offset, sequence);
                }
            }

            if (got < Window)
            {
                break;
            }
        }

        return null;
    }

    private static int ReadFully(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = RandomAccess.Read(file, buffer[total..], offset + total);
            if (read <= 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    // Copies [offset, end) to the quarantine folder (fsynced), counts and logs it. The segment itself is not changed.
    private void Keep(SafeFileHandle file, string segmentPath, long segment, long offset, long end)
    {
        var bytes = end - offset;
        Interlocked.Add(ref _damagedBytes, bytes);
        _metrics.JournalCorruptBytes.Add(bytes);
        var name = segment.ToString("D20", CultureInfo.InvariantCulture) + "-" + offset.ToString(CultureInfo.InvariantCulture);
        var path = Path.Combine(Folder, name + Extension);
        if (File.Exists(Path.Combine(Folder, name + AcknowledgedExtension)))
        {
            // Found again at a restart: the segment still holds it (until a checkpoint passes it), the operator has seen it.
            Log.JournalDamageAcknowledged(_logger, segmentPath, bytes, offset, Path.Combine(Folder, name + AcknowledgedExtension));
            return;
        }

        try
        {
            Directory.CreateDirectory(Folder);
            if (!File.Exists(path))
            {
                var temporary = path + ".tmp";
                using (var copy = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
                {
                    var buffer = new byte[(int)Math.Min(Window, Math.Max(bytes, 1))];
                    for (var at = offset; at < end;)
                    {
                        var read = ReadFully(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - at)), at);
                        if (read <= 0)
                        {
                            break;
                        }

                        copy.Write(buffer, 0, read);
                        at += read;
                    }

                    copy.Flush(flushToDisk: true);
                }

                File.Move(temporary, path, overwrite: true);
            }

            Log.JournalDamaged(_logger, segmentPath, bytes, offset, end, path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The segment still holds the bytes; readiness stays degraded for this process although no file says so.
            Interlocked.Increment(ref _unsaved);
            Log.JournalQuarantineFailed(_logger, ex, segmentPath, bytes, offset, path);
        }
    }
}
