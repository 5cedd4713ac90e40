using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using PrintFarm.Core.Normalization;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// The clustered mode's pipeline: for each partition this worker owns, one <see cref="PartitionPipeline{TPosition}"/>
/// with its own processor, reading the partition from JetStream and checkpointing to KV — the same processing code as
/// the single-machine worker, many times over. All of them hand their lines to the one InfluxDB writer. Which
/// partitions it owns is fixed (<see cref="ClusterOptions.Owned"/>) or leased (<see cref="PartitionLeases"/>): a
/// round every third of the lease time takes partitions up to the fair share, hands back what is over it (after a
/// last checkpoint), and stops at once, without writing, a partition whose lease was lost. When it ends it completes
/// the writer's queue.
/// </summary>
internal sealed class ClusterPipelineService : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly PrintFarmOptions _options;
    private readonly PipelineChannels _channels;
    private readonly TimeProvider _time;
    private readonly ILogger<ClusterPipelineService> _logger;
    private readonly Dictionary<int, Running> _running = [];
    private readonly object _gate = new();
    private NatsConnection? _nats;
    private NatsJSContext? _js;
    private INatsKVStore? _checkpoints;
    private PartitionLeases? _leases;
    private long _lastLeaseRound;
    private string? _leaseError;
    private INatsKVStore? _partials;
    private FarmAlertStage? _stage;
    private Task? _stageRun;
    private readonly CancellationTokenSource _stageStop = new();

    public ClusterPipelineService(IServiceProvider services, IOptions<PrintFarmOptions> options, PipelineChannels channels, TimeProvider time, ILogger<ClusterPipelineService> logger)
    {
        _services = services;
        _options = options.Value;
        _channels = channels;
        _time = time;
        _logger = logger;
    }

    /// <summary>The partitions this worker reads now and the stream position each one's state reflects.</summary>
    public IReadOnlyDictionary<int, StreamPosition> Processed
    {
        get
        {
            lock (_gate)
            {
                return _running.ToDictionary(p => p.Key, p => p.Value.Pipeline.Processed);
            }
        }
    }

    /// <summary>
    /// What <c>/readyz</c> says about the clustered mode: the NATS connection, whether both streams answer with a
    /// leader (with fewer than two of three nodes up they do not, and printers' QoS 1 publishes get no PUBACK), the
    /// leases, and each owned partition's last checkpoint.
    /// </summary>
    public async Task<(List<string> Problems, Dictionary<string, object> Data)> ProbeAsync(TimeSpan checkpointLimit, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var cluster = _options.Cluster;
        List<string> problems = [];
        var running = Snapshot();
        Dictionary<string, object> data = new()
        {
            ["natsUrl"] = SecretMasking.Text(cluster.Url),
            ["natsConnection"] = _nats?.ConnectionState.ToString() ?? "not started",
            ["partitionsOwned"] = running.Length,
            ["partitions"] = cluster.Partitions,
        };
        if (_nats is null || _js is null || _nats.ConnectionState != NatsConnectionState.Open)
        {
            problems.Add($"not connected to the NATS servers {SecretMasking.Text(cluster.Url)}");
        }
        else
        {
            foreach (var stream in new[] { cluster.Stream, JetStreamLayout.MqttStream })
            {
                using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                probe.CancelAfter(timeout);
                try
                {
                    var info = (await _js.GetStreamAsync(stream, cancellationToken: probe.Token).ConfigureAwait(false)).Info;
                    var leader = info.Cluster?.Leader;
                    var current = 1 + (info.Cluster?.Replicas?.Count(r => r.Current) ?? 0);
                    data[$"stream {stream}"] = $"leader {leader ?? "none"}, {current} of {info.Config.NumReplicas} replicas current, {info.State.Messages} messages";
                    if (string.IsNullOrEmpty(leader))
                    {
                        problems.Add($"stream {stream} has no leader: too few NATS nodes are up for a quorum, so publishes to it are not acknowledged");
                    }
                }
                catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    problems.Add($"stream {stream} does not answer ({Describe(ex)}): with fewer than two of three NATS nodes up a stream has no leader, and printers' QoS 1 publishes get no PUBACK until the nodes are back");
                }
            }
        }

        if (_leases is { } leases)
        {
            var since = _time.GetElapsedTime(Interlocked.Read(ref _lastLeaseRound));
            data["leaseRenewedSecondsAgo"] = Math.Round(since.TotalSeconds, 1);
            if (since > leases.Ttl)
            {
                problems.Add($"leases not renewed for {since.TotalSeconds:F0} s ({Volatile.Read(ref _leaseError) ?? "no round yet"}): this worker's partitions stop, another worker takes them");
            }
        }

        if (_stage is { } stage)
        {
            data["farmAlertStage"] = stage.Describe();
        }

        foreach (var r in running)
        {
            var age = r.Pipeline.CheckpointAge;
            if (age > checkpointLimit)
            {
                problems.Add($"partition {r.Partition}: last checkpoint {age.TotalSeconds:F0} s ago (limit {checkpointLimit.TotalSeconds:F0} s)");
            }
        }

        return (problems, data);
    }

    private static string Describe(Exception ex) => ex is OperationCanceledException ? "no answer in time" : ex.Message;

    // With fixed partitions, every one restores its checkpoint before StartAsync returns, as the single-machine
    // pipeline does; with leases, the first round runs here too.
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var cluster = _options.Cluster;
        var layout = cluster.Layout;
        _nats = new NatsConnection(new NatsOpts { Url = cluster.Url, Name = "printfarm-worker" });
        await _nats.ConnectAsync().ConfigureAwait(false);
        _js = new NatsJSContext(_nats);
        await EnsureStreamAsync(_js, cluster, cancellationToken).ConfigureAwait(false);
        await EnsureMqttStreamAsync(_js, cluster, cancellationToken).ConfigureAwait(false);
        await JetStreamPartitionLog.EnsureMqttConsumersAsync(_js, layout, cancellationToken).ConfigureAwait(false);
        _checkpoints = await KvCheckpointStore.OpenBucketAsync(_js, layout, cluster.Replicas, cancellationToken).ConfigureAwait(false);
        Log.ClusterStarted(_logger, cluster.IsStatic ? cluster.Owned! : "leased", layout.Partitions, layout.Stream, SecretMasking.Text(cluster.Url), layout.CheckpointBucket);
        Log.PartitionAlertsPrintersOnly(_logger, _options.Alerts.Rules.Enabled);
        var leaseBucket = await PartitionLeases.OpenBucketAsync(_js, cluster.LeaseBucket, cluster.LeaseTtl, cluster.Replicas, cancellationToken).ConfigureAwait(false);
        var worker = cluster.WorkerId ?? PartitionLeases.NewWorkerId();
        if (_options.Alerts.Rules.Enabled)
        {
            // Farm-, toy- and material-wide alerts: partitions put their partials, one worker at a time judges them.
            _partials = await FarmPartials.OpenBucketAsync(_js, layout, cluster.Replicas, _options.Alerts.Rules, cancellationToken).ConfigureAwait(false);
            _stage = new FarmAlertStage(_js, leaseBucket, _partials, _options, worker, _channels, _services.GetRequiredService<Alerts.AlertQueue>(), _time, _logger);
            _stageRun = Task.Run(() => _stage.RunAsync(_stageStop.Token), CancellationToken.None);
        }

        if (cluster.IsStatic)
        {
            _ = cluster.TryOwnedPartitions(out var owned); // validated at start
            foreach (var partition in owned)
            {
                await StartPartitionAsync(partition, owns: null, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            _leases = new PartitionLeases(leaseBucket, worker, layout.Partitions, cluster.LeaseTtl, _time);
            await RoundAsync(cancellationToken).ConfigureAwait(false);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (_leases is null)
            {
                var all = Snapshot();
                await using (stoppingToken.Register(() => Array.ForEach(all, r => r.Stop.Cancel())).ConfigureAwait(false))
                {
                    await Task.WhenAll(all.Select(r => r.Run)).ConfigureAwait(false);
                }

                return;
            }

            using var timer = new PeriodicTimer(_leases.Ttl / 3, _time);
            while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false))
            {
                await RoundAsync(stoppingToken).ConfigureAwait(false);
            }

            // A clean stop: every partition's last checkpoint, then the leases handed back for the others to take.
            try
            {
                foreach (var partition in Snapshot().Select(r => r.Partition))
                {
                    await StopPartitionAsync(partition, CancellationToken.None).ConfigureAwait(false);
                    await _leases.ReleaseAsync(partition, CancellationToken.None).ConfigureAwait(false);
                }

                await _leases.LeaveAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NATS.Client.Core.NatsException or TimeoutException)
            {
                Log.LeaseRoundFailed(_logger, ex.Message, _leases.Ttl);
            }
        }
        finally
        {
            // The stage writes alert points too: it stops (and hands its lease back) before the writer's queue completes.
            await StopStageAsync().ConfigureAwait(false);
            _channels.Lines.Writer.TryComplete();
        }
    }

    private async Task StopStageAsync()
    {
        if (_stageRun is { } run)
        {
            await _stageStop.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override void Dispose()
    {
        StopStageAsync().GetAwaiter().GetResult();
        _stageStop.Dispose();
        foreach (var running in Snapshot())
        {
            running.Stop.Cancel();
            running.Run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
            running.Pipeline.Dispose();
            running.Log.DisposeAsync().AsTask().GetAwaiter().GetResult();
            running.Stop.Dispose();
        }

        _nats?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose();
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

    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        var leases = _leases!;
        LeaseRound round;
        try
        {
            round = await leases.RoundAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastLeaseRound, _time.GetTimestamp());
            Volatile.Write(ref _leaseError, null);
        }
        catch (Exception ex) when (ex is NATS.Client.Core.NatsException or TimeoutException)
        {
            Volatile.Write(ref _leaseError, ex.Message);
            // Not renewed this round: partitions whose leases run out locally stop at their next hand-over.
            Log.LeaseRoundFailed(_logger, ex.Message, leases.Ttl);
            foreach (var partition in Snapshot().Where(r => !leases.Holds(r.Partition)).Select(r => r.Partition))
            {
                await AbandonPartitionAsync(partition).ConfigureAwait(false);
            }

            return;
        }

        foreach (var partition in round.Lost)
        {
            Log.LeaseLost(_logger, leases.Worker, partition, "its renewal failed or came too late");
            await AbandonPartitionAsync(partition).ConfigureAwait(false);
        }

        foreach (var partition in round.Release)
        {
            await StopPartitionAsync(partition, cancellationToken).ConfigureAwait(false);
            await leases.ReleaseAsync(partition, cancellationToken).ConfigureAwait(false);
            Log.PartitionReleased(_logger, leases.Worker, partition, leases.Held.Count, round.Share);
        }

        foreach (var partition in round.Taken)
        {
            await StartPartitionAsync(partition, () => leases.Holds(partition), cancellationToken).ConfigureAwait(false);
            Log.PartitionTaken(_logger, leases.Worker, partition, leases.Held.Count, round.Share, _options.Cluster.Partitions, round.Workers);
        }
    }

    private async Task StartPartitionAsync(int partition, Func<bool>? owns, CancellationToken cancellationToken)
    {
        var log = await JetStreamPartitionLog.OpenAsync(_js!, _options.Cluster.Layout, partition, owns, _logger, cancellationToken).ConfigureAwait(false);

        // Each partition has its own processor, adapters and guard: its state is its checkpoint. Its farm, toy and
        // material points carry the partition tag and its built-in alerts judge printers only; its share of the farm's
        // alert windows goes to the farm alert stage through Partials (docs/scale-out.md, "Farm-wide alerts").
        var processor = PrintFarmHostingExtensions.CreateProcessor(_services, alerts: false, PrintFarmHostingExtensions.CreateGuard(_options), partition: partition);
        var pipeline = new PartitionPipeline<StreamPosition>(
            processor,
            log,
            new KvCheckpointStore(_checkpoints!, JetStreamLayout.CheckpointKey(partition), _logger),
            _channels,
            _services.GetRequiredService<DeadLetterStore>(),
            _services.GetRequiredService<PrintFarmInstrumentation>(),
            _options,
            _time,
            _logger,
            _services.GetRequiredService<Alerts.AlertQueue>(),
            _services.GetRequiredService<Alerts.DeliveredLog>())
        {
            Owns = owns,
            Partials = _partials is { } partials
                ? new PartialsPublisher(partials, partition, new PrintFarm.Core.Alerts.AlertEvaluator(_options.Alerts.Rules, _options.AllowedLateness, farmWideOnly: true), _time, _logger).PublishAsync
                : null,
        };
        await pipeline.StartAsync(cancellationToken).ConfigureAwait(false);
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => pipeline.RunAsync(stop.Token), CancellationToken.None);
        lock (_gate)
        {
            _running[partition] = new Running(partition, log, pipeline, stop, run);
        }
    }

    // Stops a partition with its last flush and checkpoint.
    private async Task StopPartitionAsync(int partition, CancellationToken cancellationToken)
    {
        Running? running;
        lock (_gate)
        {
            _running.Remove(partition, out running);
        }

        if (running is null)
        {
            return;
        }

        await running.Stop.CancelAsync().ConfigureAwait(false);
        await running.Run.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        running.Pipeline.Dispose();
        await running.Log.DisposeAsync().ConfigureAwait(false);
        running.Stop.Dispose();
    }

    // A lost partition: its pipeline's Owns() is false already, so it writes nothing more and skips its checkpoint.
    private Task AbandonPartitionAsync(int partition) => StopPartitionAsync(partition, CancellationToken.None);

    private Running[] Snapshot()
    {
        lock (_gate)
        {
            return _running.Values.ToArray();
        }
    }

    // Created with Limits retention when missing; an existing stream is used as it is (its operator may have tuned it).
    private Task EnsureStreamAsync(NatsJSContext js, ClusterOptions cluster, CancellationToken cancellationToken) =>
        CreateIfMissingAsync(
            js,
            new StreamConfig(cluster.Stream, [cluster.PartitionPrefix + ".>"])
            {
                NumReplicas = cluster.Replicas,
                Storage = StreamConfigStorage.File,
                Retention = StreamConfigRetention.Limits,
                Discard = StreamConfigDiscard.Old,
                MaxAge = cluster.Retention,
            },
            () => Log.StreamCreated(_logger, cluster.Stream, cluster.PartitionPrefix + ".>", cluster.Replicas, cluster.Retention),
            cancellationToken);

    // nats-server creates $MQTT_msgs when the first MQTT client connects; created here first (with the same settings:
    // interest retention, every $MQTT.msgs subject, file storage) so the partitions' consumers exist before a printer
    // publishes. An existing one is used as it is.
    private Task EnsureMqttStreamAsync(NatsJSContext js, ClusterOptions cluster, CancellationToken cancellationToken) =>
        CreateIfMissingAsync(
            js,
            new StreamConfig(JetStreamLayout.MqttStream, [JetStreamLayout.MqttSubjectPrefix + ">"])
            {
                NumReplicas = cluster.Replicas,
                Storage = StreamConfigStorage.File,
                Retention = StreamConfigRetention.Interest,
            },
            () => Log.MqttStreamCreated(_logger, JetStreamLayout.MqttStream, JetStreamLayout.MqttSubjectPrefix + ">", cluster.Replicas),
            cancellationToken);

    private static async Task CreateIfMissingAsync(NatsJSContext js, StreamConfig config, Action created, CancellationToken cancellationToken)
    {
        try
        {
            await js.GetStreamAsync(config.Name!, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            try
            {
                await js.CreateStreamAsync(config, cancellationToken).ConfigureAwait(false);
                created();
            }
            catch (NatsJSApiException raced) when (raced.Error.ErrCode == 10058)
            {
                // Another worker (or, for $MQTT_msgs, the server's first MQTT client) created it at the same moment
                // ("stream name already in use").
            }
        }
    }

    private sealed record Running(int Partition, JetStreamPartitionLog Log, PartitionPipeline<StreamPosition> Pipeline, CancellationTokenSource Stop, Task Run);
}
