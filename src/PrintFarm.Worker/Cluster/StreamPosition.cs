using System.Globalization;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// A position in a JetStream partition, which is read from two streams (<see cref="JetStreamPartitionLog"/>): the
/// next stream sequence to read in the partition stream (<see cref="Stream"/>: QoS 0 messages and NATS publishers),
/// and in the NATS MQTT listener's own <c>$MQTT_msgs</c> (<see cref="Mqtt"/>: QoS 1 messages, which that stream holds
/// before the PUBACK). Stream sequences are each stream's own counter over all partitions, so a partition's records
/// have increasing but not consecutive ones. Two positions have no order of their own (one may be ahead in
/// one stream and behind in the other); <see cref="Min"/> is what both need.
/// </summary>
internal readonly record struct StreamPosition(ulong Stream, ulong Mqtt)
{
    /// <summary>The first sequence of both streams: a partition read from here misses nothing they still hold.</summary>
    public static StreamPosition First { get; } = new(1, 1);

    /// <summary>The position no later than either, in both streams: what two checkpoints both still need.</summary>
    public static StreamPosition Min(StreamPosition left, StreamPosition right) =>
        new(Math.Min(left.Stream, right.Stream), Math.Min(left.Mqtt, right.Mqtt));

    /// <summary>True when this position is before <paramref name="other"/> in either stream.</summary>
    public bool IsBeforeInEither(StreamPosition other) => Stream < other.Stream || Mqtt < other.Mqtt;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"stream sequence {Stream} and MQTT sequence {Mqtt}");
}
