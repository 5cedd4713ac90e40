using System.Globalization;
using System.Text;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// The names the clustered mode uses in NATS: the servers' <c>mappings</c> put every printer's messages on partition
/// subjects <c>{PartitionPrefix}.{n}.{original subject}</c> with <c>partition(P, printer token)</c>; one stream of
/// ours holds them (QoS 0 and plain NATS publishes), the MQTT listener's own <c>$MQTT_msgs</c> holds the QoS 1 ones
/// under <c>$MQTT.msgs.{partition subject}</c>; one durable consumer per partition in each, and a KV bucket with one
/// checkpoint key per partition. docs/scale-out.md.
/// </summary>
/// <param name="Stream">The stream's name.</param>
/// <param name="PartitionPrefix">The first token of every partition subject.</param>
/// <param name="Partitions">P, fixed for the life of the stream: changing it moves printers between partitions.</param>
/// <param name="CheckpointBucket">The KV bucket of the partitions' checkpoints.</param>
internal sealed record JetStreamLayout(string Stream, string PartitionPrefix, int Partitions, string CheckpointBucket)
{
    /// <summary>The NATS MQTT listener's stream of QoS 1 messages (nats-server creates it; a PUBACK means it is stored there).</summary>
    public const string MqttStream = "$MQTT_msgs";

    /// <summary>The prefix nats-server puts before a QoS 1 message's (mapped) subject in <see cref="MqttStream"/>.</summary>
    public const string MqttSubjectPrefix = "$MQTT.msgs.";

    /// <summary>The header nats-server puts on every message that came in over MQTT, with the QoS it was published at.</summary>
    public const string MqttQosHeader = "Nmqtt-Pub";

    /// <summary>The subject filter of partition <paramref name="partition"/>: <c>parts.7.&gt;</c>.</summary>
    public string PartitionSubject(int partition) => string.Create(CultureInfo.InvariantCulture, $"{PartitionPrefix}.{partition}.>");

    /// <summary>
    /// The name of generation <paramref name="generation"/> of partition <paramref name="partition"/>'s consumer on
    /// <see cref="Stream"/>. Every consumer a partition's reader creates has a name of its own: a worker that lost the
    /// partition (paused past its lease) can only reach the consumers it made, never the new owner's, with a late
    /// pull, acknowledgement or re-creation.
    /// </summary>
    public string ConsumerName(int partition, int generation) => ConsumerPrefix(partition) + generation.ToString(CultureInfo.InvariantCulture);

    /// <summary>What every generation of partition <paramref name="partition"/>'s <see cref="Stream"/> consumer is named with.</summary>
    public string ConsumerPrefix(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stream}_p{partition:D4}_g");

    /// <summary>The name versions before generations gave partition <paramref name="partition"/>'s <see cref="Stream"/> consumer; deleted like an older generation.</summary>
    public string UngeneratedConsumerName(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stream}_p{partition:D4}");

    /// <summary>The generation in a consumer name made by <see cref="ConsumerName"/> for <paramref name="partition"/>; null for any other name.</summary>
    public int? ConsumerGeneration(int partition, string name) => Generation(ConsumerPrefix(partition), name);

    /// <summary>The subject filter of partition <paramref name="partition"/> in <see cref="MqttStream"/>: <c>$MQTT.msgs.parts.7.&gt;</c>.</summary>
    public string MqttPartitionSubject(int partition) => MqttSubjectPrefix + PartitionSubject(partition);

    /// <summary>
    /// The name of generation <paramref name="generation"/> of partition <paramref name="partition"/>'s consumer on
    /// <see cref="MqttStream"/>. That stream keeps a message only while a consumer still has to acknowledge it, so its
    /// consumer is never deleted before the next generation exists: a new owner creates generation g + 1 at its
    /// checkpoint, then deletes the older ones.
    /// </summary>
    public string MqttConsumerName(int partition, int generation) => MqttConsumerPrefix(partition) + generation.ToString(CultureInfo.InvariantCulture);

    /// <summary>What every generation of partition <paramref name="partition"/>'s <see cref="MqttStream"/> consumer is named with.</summary>
    public string MqttConsumerPrefix(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stream}_mqtt_p{partition:D4}_g");

    /// <summary>The generation in a consumer name made by <see cref="MqttConsumerName"/> for <paramref name="partition"/>; null for any other name.</summary>
    public int? MqttConsumerGeneration(int partition, string name) => Generation(MqttConsumerPrefix(partition), name);

    /// <summary>The KV key of partition <paramref name="partition"/>'s checkpoint.</summary>
    public static string CheckpointKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"p{partition:D4}");

    private static int? Generation(string prefix, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.StartsWith(prefix, StringComparison.Ordinal)
               && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            ? generation
            : null;
    }

    /// <summary>
    /// The MQTT topic a partition subject carries: the prefix and partition tokens dropped, the NATS token separator
    /// <c>.</c> turned back into MQTT's <c>/</c> (the NATS MQTT listener does the reverse; it refuses topics with a dot).
    /// </summary>
    public string TopicOf(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (subject.StartsWith(MqttSubjectPrefix, StringComparison.Ordinal))
        {
            subject = subject[MqttSubjectPrefix.Length..];
        }

        var start = PartitionPrefix.Length + 1;
        var second = subject.Length > start ? subject.IndexOf('.', start) : -1;
        if (!subject.StartsWith(PartitionPrefix, StringComparison.Ordinal) || subject.Length <= start || subject[start - 1] != '.' || second < 0)
        {
            return subject.Replace('.', '/');
        }

        return subject[(second + 1)..].Replace('.', '/');
    }

    /// <summary>
    /// The partition of a printer token as nats-server's <c>partition(P, token)</c> computes it: FNV-1a (32 bit) of the
    /// token's UTF-8 bytes, modulo P (measured: NatsFactsTests).
    /// </summary>
    public int PartitionOf(string printerToken)
    {
        ArgumentNullException.ThrowIfNull(printerToken);
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(printerToken))
        {
            hash ^= b;
            hash *= 16777619u;
        }

        return (int)(hash % (uint)Partitions);
    }
}
