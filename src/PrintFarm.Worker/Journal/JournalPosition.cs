using System.Globalization;
using System.Text.Json.Nodes;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// A place in the journal: the segment (named by the sequence number of its first record), the byte offset in it, and
/// the sequence number of the record that starts there.
/// </summary>
internal readonly record struct JournalPosition(long Segment, long Offset, long Sequence) : IComparable<JournalPosition>
{
    public int CompareTo(JournalPosition other)
    {
        var bySegment = Segment.CompareTo(other.Segment);
        return bySegment != 0 ? bySegment : Offset.CompareTo(other.Offset);
    }

    public static bool operator <(JournalPosition left, JournalPosition right) => left.CompareTo(right) < 0;

    public static bool operator >(JournalPosition left, JournalPosition right) => left.CompareTo(right) > 0;

    public static bool operator <=(JournalPosition left, JournalPosition right) => left.CompareTo(right) <= 0;

    public static bool operator >=(JournalPosition left, JournalPosition right) => left.CompareTo(right) >= 0;

    /// <summary>As kept in the checkpoint.</summary>
    public JsonObject ToJson() => new()
    {
        ["segment"] = Segment,
        ["offset"] = Offset,
        ["sequence"] = Sequence,
    };

    /// <summary>Reads what <see cref="ToJson"/> wrote; null when the checkpoint has no journal position (an older checkpoint).</summary>
    public static JournalPosition? FromJson(JsonNode? node)
    {
        if (node is not JsonObject o)
        {
            return null;
        }

        return new JournalPosition(
            o["segment"]?.GetValue<long>() ?? throw new FormatException("journal position without 'segment'"),
            o["offset"]?.GetValue<long>() ?? throw new FormatException("journal position without 'offset'"),
            o["sequence"]?.GetValue<long>() ?? throw new FormatException("journal position without 'sequence'"));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"#{Sequence} ({Segment:D20}.log @ {Offset})");
}
