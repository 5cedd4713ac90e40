using System.Globalization;
using System.IO.Hashing;
using System.Text;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// Which partitions this worker owns, through leases in a NATS KV bucket whose <c>MaxAge</c> is the lease time (per-key
/// TTLs need nats-server 2.11; 2.9.10 refuses them). A lease is key <c>p0007</c> holding the owner's id: taken by
/// create-if-absent, renewed by an update conditional on its revision (a stale owner's renewal fails), freed by a
/// delete when handed back, or by <c>MaxAge</c> when its owner stops renewing. Workers announce themselves under
/// <c>members.{id}</c> the same way; each takes up to its fair share, ⌈P ÷ workers⌉, and hands back what is over it.
/// <para>
/// A lease is held locally only until <see cref="Ttl"/> less a safety margin after the renewal request was sent, by
/// this machine's monotonic clock: a worker that was paused (SIGSTOP, a long GC, a frozen VM) finds its leases
/// expired when it resumes and stops those partitions before anything leaves them — before the servers could have
/// given them to someone else.
/// </para>
/// </summary>
internal sealed class PartitionLeases
{
    private readonly INatsKVStore _bucket;
    private readonly TimeProvider _time;
    private readonly int _partitions;
    private readonly object _gate = new();
    private readonly Dictionary<int, (ulong Revision, long RenewedAt)> _held = [];

    public PartitionLeases(INatsKVStore bucket, string worker, int partitions, TimeSpan ttl, TimeProvider time)
    {
        _bucket = bucket;
        Worker = worker;
        _partitions = partitions;
        Ttl = ttl;
        _time = time;
    }

    /// <summary>This worker's id, the value of the leases it holds.</summary>
    public string Worker { get; }

    /// <summary>How long a lease lasts without renewal: the bucket's <c>MaxAge</c>.</summary>
    public TimeSpan Ttl { get; }

    // A lease counts as held for this much less than the TTL after its renewal was sent.
    private TimeSpan Margin => Ttl / 5;

    /// <summary>The lease bucket, created when missing with <paramref name="ttl"/> as its <c>MaxAge</c>.</summary>
    public static async Task<INatsKVStore> OpenBucketAsync(INatsJSContext js, string bucket, TimeSpan ttl, int replicas, CancellationToken cancellationToken) =>
        await new NatsKVContext(js).CreateStoreAsync(new NatsKVConfig(bucket) { MaxAge = ttl, History = 1, NumberOfReplicas = replicas }, cancellationToken).ConfigureAwait(false);

    /// <summary>A worker id from the machine, the process and a random part; only characters KV keys allow.</summary>
    public static string NewWorkerId()
    {
        var name = new string(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());
        return string.Create(CultureInfo.InvariantCulture, $"{name}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
    }

    /// <summary>True while this worker's lease on <paramref name="partition"/> is valid by its own clock.</summary>
    public bool Holds(int partition)
    {
        lock (_gate)
        {
            return _held.TryGetValue(partition, out var lease) && _time.GetElapsedTime(lease.RenewedAt) < Ttl - Margin;
        }
    }

    /// <summary>The partitions this worker holds a lease on (valid or not yet found expired).</summary>
    public IReadOnlyList<int> Held
    {
        get
        {
            lock (_gate)
            {
                return _held.Keys.Order().ToArray();
            }
        }
    }

    /// <summary>
    /// One round: announce this worker, renew every lease (a failed renewal or a locally expired lease is lost), and
    /// say which partitions to hand back (over the fair share) and which were taken (under it).
    /// </summary>
    public async Task<LeaseRound> RoundAsync(CancellationToken cancellationToken)
    {
        await _bucket.PutAsync(MemberKey(Worker), Worker, cancellationToken: cancellationToken).ConfigureAwait(false);

        List<int> lost = [];
        foreach (var partition in Held)
        {
            var sent = _time.GetTimestamp();
            (ulong Revision, long RenewedAt) lease;
            lock (_gate)
            {
                lease = _held[partition];
            }

            if (!Holds(partition))
            {
                // Paused past the lease: someone else may own it already.
                Drop(partition);
                lost.Add(partition);
                continue;
            }

            try
            {
                var revision = await _bucket.UpdateAsync(LeaseKey(partition), Worker, lease.Revision, cancellationToken: cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _held[partition] = (revision, sent);
                }
            }
            catch (Exception ex) when (ex is NatsKVWrongLastRevisionException or NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
            {
                Drop(partition);
                lost.Add(partition);
            }
        }

        var workers = 0;
        await foreach (var _ in _bucket.GetKeysAsync(["members.>"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            workers++;
        }

        workers = Math.Max(1, workers);
        var share = (_partitions + workers - 1) / workers;
        var held = Held;
        var release = held.Count > share ? held.OrderByDescending(p => Preference(p)).Take(held.Count - share).Order().ToArray() : [];
        List<int> taken = [];
        if (held.Count < share)
        {
            foreach (var partition in Enumerable.Range(0, _partitions).Where(p => !held.Contains(p)).OrderBy(Preference))
            {
                if (held.Count + taken.Count >= share)
                {
                    break;
                }

                var sent = _time.GetTimestamp();
                try
                {
                    var revision = await _bucket.CreateAsync(LeaseKey(partition), Worker, cancellationToken: cancellationToken).ConfigureAwait(false);
                    lock (_gate)
                    {
                        _held[partition] = (revision, sent);
                    }

                    taken.Add(partition);
                }
                catch (NatsKVCreateException)
                {
                    // Another worker's.
                }
            }
        }

        return new LeaseRound(lost, release, taken, share, workers);
    }

    /// <summary>Hands a partition back: deletes its lease if it is still this worker's, so another may take it at once.</summary>
    public async Task ReleaseAsync(int partition, CancellationToken cancellationToken)
    {
        ulong revision;
        lock (_gate)
        {
            if (!_held.Remove(partition, out var lease))
            {
                return;
            }

            revision = lease.Revision;
        }

        try
        {
            await _bucket.DeleteAsync(LeaseKey(partition), new NatsKVDeleteOpts { Revision = revision }, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsKVWrongLastRevisionException)
        {
            // Already someone else's.
        }
    }

    /// <summary>Stops announcing this worker (a clean stop), so the others' fair share grows at once.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken) =>
        await _bucket.DeleteAsync(MemberKey(Worker), cancellationToken: cancellationToken).ConfigureAwait(false);

    internal static string LeaseKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"p{partition:D4}");

    private static string MemberKey(string worker) => "members." + worker;

    private void Drop(int partition)
    {
        lock (_gate)
        {
            _held.Remove(partition);
        }
    }

    // Rendezvous order: each worker prefers different partitions, so joiners do not all race for the same ones.
    private uint Preference(int partition) =>
        XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Worker}/{partition}")));
}

/// <summary>What a round of <see cref="PartitionLeases.RoundAsync"/> found.</summary>
/// <param name="Lost">Leases lost (not renewed in time, or taken over): stop these partitions at once, without writing.</param>
/// <param name="Release">Over the fair share: stop these with a last checkpoint, then hand them back.</param>
/// <param name="Taken">New leases: start these.</param>
/// <param name="Share">The fair share, ⌈P ÷ workers⌉.</param>
/// <param name="Workers">Workers announced.</param>
internal sealed record LeaseRound(IReadOnlyList<int> Lost, IReadOnlyList<int> Release, IReadOnlyList<int> Taken, int Share, int Workers);
