using System.Globalization;
using System.Text;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// The names the clustered mode uses in NATS: one stream holding every printer's messages on partition subjects
/// <c>{PartitionPrefix}.{n}.{original subject}</c> (put there by the servers' <c>mappings</c> with
/// <c>partition(P, printer token)</c>), one durable consumer per partition, and a KV bucket with one checkpoint key
/// per partition. docs/scale-out.md.
/// </summary>
/// <param name="Stream">The stream's name.</param>
/// <param name="PartitionPrefix">The first token of every partition subject.</param>
/// <param name="Partitions">P, fixed for the life of the stream: changing it moves printers between partitions.</param>
/// <param name="CheckpointBucket">The KV bucket of the partitions' checkpoints.</param>
internal sealed record JetStreamLayout(string Stream, string PartitionPrefix, int Partitions, string CheckpointBucket)
{
    /// <summary>The subject filter of partition <paramref name="partition"/>: <c>parts.7.&gt;</c>.</summary>
    public string PartitionSubject(int partition) => string.Create(CultureInfo.InvariantCulture, $"{PartitionPrefix}.{partition}.>");

    /// <summary>The durable consumer that reads partition <paramref name="partition"/>.</summary>
    public string ConsumerName(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stream}_p{partition:D4}");

    /// <summary>The KV key of partition <paramref name="partition"/>'s checkpoint.</summary>
    public static string CheckpointKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"p{partition:D4}");

    /// <summary>
    /// The MQTT topic a partition subject carries: the prefix and partition tokens dropped, the NATS token separator
    /// <c>.</c> turned back into MQTT's <c>/</c> (the NATS MQTT listener does the reverse; it refuses topics with a dot).
    /// </summary>
    public string TopicOf(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
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
