using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Alerts;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// The clustered mode's farm-, toy- and material-wide built-in alerts: a singleton held by one worker at a time
/// through lease <see cref="FarmPartials.StageKey"/> in the lease bucket (same time and local-expiry rule as the
/// partitions' leases). Its owner watches the partials bucket, adds each window's partials up over the partitions
/// (<see cref="FarmPartialsMerge"/>), and feeds the sums to an <see cref="AlertEvaluator"/> of those scopes with the
/// farm's closing watermark: the leading partition's watermark, held back by any partition behind it that still has
/// unread messages older than the leading one (asked of the streams themselves). Its transitions become
/// <c>alert</c> points and deliveries as in the single-machine worker. Its state — the evaluator's and the outbox of
/// its undelivered transitions — is saved in the partials bucket under the same key after every judgement,
/// conditional on the revision it read, so a new owner resumes where the last save left off and a former owner that
/// lost the lease cannot overwrite it.
/// </summary>
internal sealed class FarmAlertStage
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly INatsJSContext _js;
    private readonly INatsKVStore _leases;
    private readonly INatsKVStore _partials;
    private readonly JetStreamLayout _layout;
    private readonly PrintFarmOptions _options;
    private readonly PipelineChannels _channels;
    private readonly AlertQueue _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PointEncoder _encoder;
    private ulong _leaseRevision;
    private long _renewedAt;
    private bool _leased;
    private Owned? _owned;
    private long _lastJudged;

    public FarmAlertStage(INatsJSContext js, INatsKVStore leases, INatsKVStore partials, PrintFarmOptions options, string worker, PipelineChannels channels, AlertQueue queue, TimeProvider time, ILogger logger)
    {
        _js = js;
        _leases = leases;
        _partials = partials;
        _layout = options.Cluster.Layout;
        _options = options;
        Worker = worker;
        _channels = channels;
        _queue = queue;
        _time = time;
        _logger = logger;
        _encoder = new PointEncoder(options.Farm);
        _lastJudged = time.GetTimestamp();
    }

    /// <summary>This worker's id, the lease's value while it holds it.</summary>
    public string Worker { get; }

    private TimeSpan Ttl => _options.Cluster.LeaseTtl;

    /// <summary>True while this worker holds the stage's lease by its own clock (as <see cref="PartitionLeases.Holds"/>).</summary>
    public bool Holds => Volatile.Read(ref _leased) && _time.GetElapsedTime(Interlocked.Read(ref _renewedAt)) < Ttl - (Ttl / 5);

    /// <summary>For <c>/readyz</c>: whether this worker runs the stage, how far it has judged and how long ago it last judged.</summary>
    public Dictionary<string, object> Describe()
    {
        var owned = Volatile.Read(ref _owned);
        Dictionary<string, object> data = new() { ["owner"] = owned is not null && Holds ? "this worker" : "another worker (or none yet)" };
        if (owned is not null)
        {
            lock (owned.Gate)
            {
                data["judgedUntil"] = owned.Evaluator.EvaluatedUntil == long.MinValue ? "nothing yet" : new DateTimeOffset(owned.Evaluator.EvaluatedUntil, TimeSpan.Zero).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
                data["partitionsReported"] = owned.Merge.Reports.Count;
                data["firing"] = owned.Evaluator.Firing;
            }

            data["lastJudgementSecondsAgo"] = Math.Round(_time.GetElapsedTime(Interlocked.Read(ref _lastJudged)).TotalSeconds, 1);
        }

        return data;
    }

    /// <summary>Takes or renews the lease, and while it is held judges the farm, every third of the lease time or flush interval, whichever is shorter.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var tick = TimeSpan.FromTicks(Math.Min(Ttl.Ticks / 3, _options.FlushInterval.Ticks));
        using var timer = new PeriodicTimer(tick, _time);
        try
        {
            do
            {
                try
                {
                    await LeaseAsync(stoppingToken).ConfigureAwait(false);
                    if (Volatile.Read(ref _owned) is { Ended: true })
                    {
                        await DropAsync().ConfigureAwait(false); // its watch ended: taken up afresh below
                    }

                    if (Holds && Volatile.Read(ref _owned) is null)
                    {
                        await TakeAsync(stoppingToken).ConfigureAwait(false);
                    }

                    if (Volatile.Read(ref _owned) is { } owned && Holds)
                    {
                        await JudgeAsync(owned, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (StageFencedException ex)
                {
                    Log.FarmAlertStageLost(_logger, Worker, ex.Message);
                    await DropAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Supervised: NATS or the writer failing, or a bug; logged and tried again at the next tick.
                    Log.FarmAlertStageFailed(_logger, ex.GetType().Name + ": " + ex.Message, tick);
                }
            }
            while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
        }
        finally
        {
            await DropAsync().ConfigureAwait(false);
            if (Volatile.Read(ref _leased))
            {
                try
                {
                    // A clean stop: handed back, so another worker takes the stage at once.
                    await _leases.DeleteAsync(FarmPartials.StageKey, new NatsKVDeleteOpts { Revision = _leaseRevision }, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException)
                {
                    // It runs out by itself.
                }

                Volatile.Write(ref _leased, false);
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task LeaseAsync(CancellationToken cancellationToken)
    {
        var sent = _time.GetTimestamp();
        if (Volatile.Read(ref _leased))
        {
            if (!Holds)
            {
                // Paused past the lease (or renewals failed): another worker may run the stage already.
                Log.FarmAlertStageLost(_logger, Worker, "its lease ran out before it was renewed");
                Volatile.Write(ref _leased, false);
                await DropAsync().ConfigureAwait(false);
                return;
            }

            if (_time.GetElapsedTime(Interlocked.Read(ref _renewedAt)) < Ttl / 3)
            {
                return;
            }

            try
            {
                _leaseRevision = await _leases.UpdateAsync(FarmPartials.StageKey, Worker, _leaseRevision, cancellationToken: cancellationToken).ConfigureAwait(false);
                Interlocked.Exchange(ref _renewedAt, sent);
            }
            catch (Exception ex) when (ex is NatsKVWrongLastRevisionException or NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
            {
                Log.FarmAlertStageLost(_logger, Worker, "its lease was renewed too late and is gone or another worker's");
                Volatile.Write(ref _leased, false);
                await DropAsync().ConfigureAwait(false);
            }

            return;
        }

        try
        {
            _leaseRevision = await _leases.CreateAsync(FarmPartials.StageKey, Worker, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsKVCreateException)
        {
            return; // another worker's
        }

        Interlocked.Exchange(ref _renewedAt, sent);
        Volatile.Write(ref _leased, true);
    }

    // The saved state, then the partials bucket read from the start (the latest value of every key) and watched on.
    private async Task TakeAsync(CancellationToken cancellationToken)
    {
        var evaluator = new AlertEvaluator(_options.Alerts.Rules, _options.AllowedLateness, farmWideOnly: true);
        ulong revision = 0;
        List<AlertTransition> outbox = [];
        try
        {
            var entry = await _partials.GetEntryAsync<byte[]>(FarmPartials.StageKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            revision = entry.Revision;
            if (entry.Value is { } value && JsonNode.Parse(value) is JsonObject saved)
            {
                if (saved["alerts"]?.Deserialize<AlertEvaluatorState>(Json) is { } state)
                {
                    evaluator.RestoreState(state);
                }

                if (saved[AlertQueue.OutboxProperty] is JsonArray items)
                {
                    outbox.AddRange(items.Select(i => i.Deserialize<AlertTransition>(Json)).OfType<AlertTransition>());
                }
            }
        }
        catch (Exception ex) when (ex is NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
        {
            // A farm's first stage.
        }

        var owned = new Owned(evaluator, new FarmPartialsMerge(evaluator.Window, _layout.Partitions) { JudgedUntil = evaluator.EvaluatedUntil }, revision, outbox)
        {
            PartitionStream = await _js.GetStreamAsync(_layout.Stream, cancellationToken: cancellationToken).ConfigureAwait(false),
            MqttStream = await _js.GetStreamAsync(JetStreamLayout.MqttStream, cancellationToken: cancellationToken).ConfigureAwait(false),
        };
        // The saved outbox goes to the publisher again, but not what it still has from this worker's earlier turn.
        var pending = _queue.PendingKeys();
        _queue.RestoreOutbox(new JsonArray(outbox.Where(t => !pending.Contains(AlertMessages.IdempotencyKey(_options.Farm, t))).Select(t => JsonSerializer.SerializeToNode(t, Json)).ToArray()));
        owned.Watching = Task.Run(() => WatchAsync(owned, owned.Stop.Token), CancellationToken.None);
        Volatile.Write(ref _owned, owned);
        Log.FarmAlertStageTaken(_logger, Worker, evaluator.EvaluatedUntil == long.MinValue ? "nothing yet" : new DateTimeOffset(evaluator.EvaluatedUntil, TimeSpan.Zero).ToString("O", System.Globalization.CultureInfo.InvariantCulture), evaluator.Firing, _layout.Partitions);
    }

    private async Task WatchAsync(Owned owned, CancellationToken cancellationToken)
    {
        try
        {
            var opts = new NatsKVWatchOpts
            {
                IgnoreDeletes = true,
                OnNoData = _ =>
                {
                    owned.Ready = true; // an empty bucket: nothing to catch up with
                    return ValueTask.FromResult(false);
                },
            };
            await foreach (var entry in _partials.WatchAsync<byte[]>(">", opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                lock (owned.Gate)
                {
                    if (entry.Value is { } value && entry.Key != FarmPartials.StageKey)
                    {
                        if (FarmPartials.IsJudged(entry.Key))
                        {
                            // A judged window's final sums, back into the rules' ranges (those judged after the saved
                            // state are taken from the partials again, as they were).
                            if (FarmPartials.DecodePartial(value) is { } j && j.Start + owned.Evaluator.Window.Size.Ticks <= owned.Evaluator.EvaluatedUntil)
                            {
                                var start = new DateTimeOffset(j.Start, TimeSpan.Zero);
                                owned.Evaluator.Evaluate([new KpiPoint(owned.Evaluator.Window, start, owned.Evaluator.Window.EndOf(start), j.Scope, j.Subject, j.Totals)], null, owned.Discard);
                                owned.Written.Add((j.Scope, j.Subject, j.Start));
                            }
                        }
                        else if (FarmPartials.IsReport(entry.Key))
                        {
                            if (FarmPartials.DecodeReport(value) is { } r)
                            {
                                owned.Merge.Report(r.Partition, r.Report);
                            }
                        }
                        else if (FarmPartials.DecodePartial(value) is { } p)
                        {
                            owned.Merge.Put(p.Partition, p.Scope, p.Subject, p.Start, p.Totals);
                        }
                    }

                    // Judged only once the latest value of every key is in: partial sums and reports in the bucket's order.
                    if (entry.Delta == 0)
                    {
                        owned.Ready = true;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Dropped.
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            Log.FarmAlertStageFailed(_logger, ex.Message, TimeSpan.Zero);
        }
        finally
        {
            // Whatever ended the watch: this owner's view stops here; the next round takes the stage up afresh.
            owned.Ended = true;
        }
    }

    private async Task JudgeAsync(Owned owned, CancellationToken cancellationToken)
    {
        ClosingPlan? plan;
        lock (owned.Gate)
        {
            if (!owned.Ready)
            {
                return;
            }

            plan = owned.Merge.Plan();
        }

        long? closing = null;
        if (plan is not null)
        {
            List<bool> clear = [];
            foreach (var (partition, report) in plan.Behind)
            {
                clear.Add(await IsClearAsync(owned, partition, report, plan.Leader, cancellationToken).ConfigureAwait(false));
            }

            closing = FarmPartialsMerge.Closing(plan, clear);
        }

        List<AlertTransition> transitions = [];
        long before, after;
        lock (owned.Gate)
        {
            before = owned.Evaluator.EvaluatedUntil;
            owned.Evaluator.Evaluate(owned.Merge.TakeChanged(), closing is { } c ? new DateTimeOffset(c, TimeSpan.Zero) : null, transitions);
            after = owned.Evaluator.EvaluatedUntil;
            owned.Merge.JudgedUntil = after;
        }

        if (after == before && transitions.Count == 0)
        {
            return;
        }

        Interlocked.Exchange(ref _lastJudged, _time.GetTimestamp());
        if (!Holds)
        {
            throw new StageFencedException("its lease ran out while it judged");
        }

        if (transitions.Count > 0)
        {
            // The alert points are durable (InfluxDB or the spool) before the state that follows them is saved; the
            // deliveries are in the outbox of that state until the publisher is done with them.
            var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await _channels.PublishAsync(transitions.Select(_encoder.Alert).ToList(), cancellationToken).ConfigureAwait(false);
            await _channels.Lines.Writer.WriteAsync(LineBatch.ForBarrier(barrier), cancellationToken).ConfigureAwait(false);
            await barrier.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            _queue.Enqueue(transitions);
            owned.Outbox.AddRange(transitions);
        }

        await SaveAsync(owned, cancellationToken).ConfigureAwait(false);
    }

    // Whether the partition behind holds no message, in either stream, from its own position up to the leader's. A
    // range found empty stays empty (new messages get higher sequences), so the next round asks only about what came
    // after it — while the partition's position is still inside it: a new owner that replays from an older checkpoint
    // starts before it, and is asked about everything again.
    private async Task<bool> IsClearAsync(Owned owned, int partition, PartitionReport report, PartitionReport leader, CancellationToken cancellationToken)
    {
        var clear = true;
        foreach (var mqtt in new[] { false, true })
        {
            var position = mqtt ? report.MqttNext : report.StreamNext;
            var to = mqtt ? leader.MqttNext : leader.StreamNext;
            var from = owned.Empty.TryGetValue((partition, mqtt), out var empty) && empty.From <= position ? Math.Max(position, empty.Until) : position;
            if (from >= to)
            {
                continue;
            }

            var stream = mqtt ? owned.MqttStream! : owned.PartitionStream!;
            var subject = mqtt ? _layout.MqttPartitionSubject(partition) : _layout.PartitionSubject(partition);
            ulong until;
            try
            {
                var next = await stream.GetAsync(new StreamMsgGetRequest { Seq = from, NextBySubj = subject }, cancellationToken).ConfigureAwait(false);
                until = Math.Min(next.Message.Seq, to);
                clear &= next.Message.Seq >= to;
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == 404)
            {
                until = to; // nothing of the partition from there on
            }

            owned.Empty[(partition, mqtt)] = (position, until);
        }

        return clear;
    }

    // The judged windows not yet written first (their final sums, each once), then the state that counts them as
    // judged: a kill in between leaves windows written that the saved state has not judged, and a new owner judges
    // them again from the partials, which hold the same sums.
    private async Task SaveAsync(Owned owned, CancellationToken cancellationToken)
    {
        var pending = _queue.PendingKeys();
        owned.Outbox.RemoveAll(t => !pending.Contains(AlertMessages.IdempotencyKey(_options.Farm, t)));
        AlertEvaluatorState state;
        List<(KpiScope Scope, string Subject, long Start, KpiTotals Totals)> judged = [];
        lock (owned.Gate)
        {
            state = owned.Evaluator.SaveState();
            var size = owned.Evaluator.Window.Size.Ticks;
            foreach (var series in state.Series)
            {
                foreach (var w in series.Windows.Where(w => w.Start + size <= state.EvaluatedUntil && !owned.Written.Contains((series.Scope, series.Subject, w.Start))))
                {
                    judged.Add((series.Scope, series.Subject, w.Start, FarmPartialsMerge.FromSums(w.Sums)));
                }
            }

            // Only what the rules can still read is remembered as written.
            var oldest = state.Series.SelectMany(x => x.Windows).Select(w => w.Start).DefaultIfEmpty(long.MaxValue).Min();
            owned.Written.RemoveWhere(k => k.Start < oldest);
        }

        foreach (var (scope, subject, start, totals) in judged)
        {
            await _partials.PutAsync(FarmPartials.JudgedKey(scope, subject, start), FarmPartials.EncodePartial(-1, scope, subject, start, totals), cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (owned.Gate)
            {
                owned.Written.Add((scope, subject, start));
            }
        }

        // The state itself stays small whatever the number of subjects: the windows are in the partials bucket.
        state.Series = [];
        var document = new JsonObject
        {
            ["saved_at"] = _time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["worker"] = Worker,
            ["alerts"] = JsonSerializer.SerializeToNode(state, Json),
            [AlertQueue.OutboxProperty] = new JsonArray(owned.Outbox.Select(t => JsonSerializer.SerializeToNode(t, Json)).ToArray()),
        };
        var value = JsonSerializer.SerializeToUtf8Bytes(document);
        try
        {
            owned.Revision = owned.Revision == 0
                ? await _partials.CreateAsync(FarmPartials.StageKey, value, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await _partials.UpdateAsync(FarmPartials.StageKey, value, owned.Revision, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsKVWrongLastRevisionException or NatsKVCreateException)
        {
            throw new StageFencedException("its state was saved by another owner since it took the stage");
        }
    }

    private async Task DropAsync()
    {
        if (Interlocked.Exchange(ref _owned, null) is not { } owned)
        {
            return;
        }

        await owned.Stop.CancelAsync().ConfigureAwait(false);
        if (owned.Watching is { } watching)
        {
            await watching.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        owned.Stop.Dispose();
    }

    private sealed class Owned(AlertEvaluator evaluator, FarmPartialsMerge merge, ulong revision, List<AlertTransition> outbox)
    {
        public object Gate { get; } = new();

        public AlertEvaluator Evaluator { get; } = evaluator;

        public FarmPartialsMerge Merge { get; } = merge;

        public ulong Revision { get; set; } = revision;

        public List<AlertTransition> Outbox { get; } = outbox;

        public HashSet<(KpiScope Scope, string Subject, long Start)> Written { get; } = [];

        // Per partition and stream, a range of sequences found to hold nothing of the partition.
        public Dictionary<(int Partition, bool Mqtt), (ulong From, ulong Until)> Empty { get; } = [];

        public List<AlertTransition> Discard { get; } = [];

        public CancellationTokenSource Stop { get; } = new();

        public Task? Watching { get; set; }

        public INatsJSStream? PartitionStream { get; init; }

        public INatsJSStream? MqttStream { get; init; }

        private volatile bool _ready;
        private volatile bool _ended;

        public bool Ready
        {
            get => _ready;
            set => _ready = value;
        }

        public bool Ended
        {
            get => _ended;
            set => _ended = value;
        }
    }

    private sealed class StageFencedException(string message) : Exception(message);
}
