using System.Globalization;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// Settings under <c>PrintFarm:Cluster</c>: the clustered mode, where workers read the farm's messages from a NATS
/// JetStream stream split into partitions instead of from their own MQTT subscription and local journal
/// (docs/scale-out.md). Off by default: the single-machine worker is the default.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>Read from JetStream instead of MQTT and the local journal. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The NATS servers, comma-separated (<c>nats://host:4222,…</c>). Default <c>nats://127.0.0.1:4222</c>.</summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The stream that holds the partition subjects; created (Limits retention) when missing. Default <c>PRINTFARM</c>.</summary>
    public string Stream { get; set; } = "PRINTFARM";

    /// <summary>First token of the partition subjects the servers' <c>mappings</c> produce. Default <c>parts</c>.</summary>
    public string PartitionPrefix { get; set; } = "parts";

    /// <summary>P: the number of partitions, as in the servers' <c>partition(P, …)</c> mapping. Default 64.</summary>
    public int Partitions { get; set; } = 64;

    /// <summary>Replicas of the stream and the checkpoint bucket when this worker creates them. Default 3.</summary>
    public int Replicas { get; set; } = 3;

    /// <summary>How long the stream keeps records, whether or not checkpoints cover them. Default 7 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The KV bucket of the partitions' checkpoints. Default <c>printfarm_checkpoints</c>.</summary>
    public string CheckpointBucket { get; set; } = "printfarm_checkpoints";

    /// <summary>
    /// The partitions this worker reads, fixed: ranges and numbers such as <c>0-31</c> or <c>0,2,4-7</c>. Each
    /// partition must then have exactly one worker. Default empty: workers share the partitions through leases.
    /// </summary>
    public string? Owned { get; set; }

    /// <summary>How long a partition's lease lasts without renewal; a dead worker's partitions move after it. Default 10 s.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The KV bucket of the leases (its <c>MaxAge</c> is <see cref="LeaseTtl"/>). Default <c>printfarm_leases</c>.</summary>
    public string LeaseBucket { get; set; } = "printfarm_leases";

    /// <summary>This worker's id in the leases. Default: the machine name, the process id and a random part.</summary>
    public string? WorkerId { get; set; }

    /// <summary>True when <see cref="Owned"/> fixes the partitions; false when leases share them.</summary>
    internal bool IsStatic => !string.IsNullOrWhiteSpace(Owned);

    internal JetStreamLayout Layout => new(Stream, PartitionPrefix, Partitions, CheckpointBucket);

    /// <summary>Parses <see cref="Owned"/>; false when it is malformed or names a partition outside 0..P−1.</summary>
    internal bool TryOwnedPartitions(out IReadOnlyList<int> partitions)
    {
        partitions = [];
        if (string.IsNullOrWhiteSpace(Owned))
        {
            partitions = Enumerable.Range(0, Math.Max(0, Partitions)).ToArray();
            return true;
        }

        var set = new SortedSet<int>();
        foreach (var part in Owned.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (!int.TryParse(dash < 0 ? part : part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                || !int.TryParse(dash < 0 ? part : part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
                || first > last || last >= Partitions)
            {
                return false;
            }

            for (var p = first; p <= last; p++)
            {
                set.Add(p);
            }
        }

        partitions = set.ToArray();
        return set.Count > 0;
    }
}
