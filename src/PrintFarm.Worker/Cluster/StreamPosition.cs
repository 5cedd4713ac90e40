using System.Globalization;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// A position in a JetStream partition: the stream sequence of the next record to read. Stream sequences are the
/// stream's own (one counter over all partitions), so a partition's records have increasing but not consecutive ones.
/// </summary>
internal readonly record struct StreamPosition(ulong Sequence) : IComparable<StreamPosition>
{
    /// <summary>The stream's first sequence: a partition read from here misses nothing the stream still holds.</summary>
    public static StreamPosition First { get; } = new(1);

    public int CompareTo(StreamPosition other) => Sequence.CompareTo(other.Sequence);

    public static bool operator <(StreamPosition left, StreamPosition right) => left.Sequence < right.Sequence;

    public static bool operator >(StreamPosition left, StreamPosition right) => left.Sequence > right.Sequence;

    public static bool operator <=(StreamPosition left, StreamPosition right) => left.Sequence <= right.Sequence;

    public static bool operator >=(StreamPosition left, StreamPosition right) => left.Sequence >= right.Sequence;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"stream sequence {Sequence}");
}
