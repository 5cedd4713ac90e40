using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
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
/// the single-machine worker, many times over. All of them hand their lines to the one InfluxDB writer. When they end
/// it completes the writer's queue.
/// </summary>
internal sealed class ClusterPipelineService : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly PrintFarmOptions _options;
    private readonly PipelineChannels _channels;
    private readonly ILogger<ClusterPipelineService> _logger;
    private readonly List<(JetStreamPartitionLog Log, PartitionPipeline<StreamPosition> Pipeline)> _partitions = [];
    private NatsConnection? _nats;

    public ClusterPipelineService(IServiceProvider services, IOptions<PrintFarmOptions> options, PipelineChannels channels, ILogger<ClusterPipelineService> logger)
    {
        _services = services;
        _options = options.Value;
        _channels = channels;
        _logger = logger;
    }

    /// <summary>The partitions this worker reads and the stream position each one's state reflects.</summary>
    public IReadOnlyDictionary<int, StreamPosition> Processed => _partitions.ToDictionary(p => p.Log.Partition, p => p.Pipeline.Processed);

    // Every partition restores its checkpoint before StartAsync returns, as the single-machine pipeline does.
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var cluster = _options.Cluster;
        var layout = cluster.Layout;
        _ = cluster.TryOwnedPartitions(out var owned); // validated at start
        _nats = new NatsConnection(new NatsOpts { Url = cluster.Url, Name = "printfarm-worker" });
        await _nats.ConnectAsync().ConfigureAwait(false);
        var js = new NatsJSContext(_nats);
        await EnsureStreamAsync(js, cluster, cancellationToken).ConfigureAwait(false);
        var bucket = await KvCheckpointStore.OpenBucketAsync(js, layout, cluster.Replicas, cancellationToken).ConfigureAwait(false);
        Log.ClusterStarted(_logger, cluster.Owned is { Length: > 0 } o ? o : "all", layout.Partitions, layout.Stream, cluster.Url, layout.CheckpointBucket);

        var metrics = _services.GetRequiredService<PrintFarmInstrumentation>();
        var time = _services.GetRequiredService<TimeProvider>();
        foreach (var partition in owned)
        {
            var log = await JetStreamPartitionLog.OpenAsync(js, layout, partition, _logger, cancellationToken).ConfigureAwait(false);

            // Each partition has its own processor, adapters and guard: its state is its checkpoint. Built-in alerts
            // and notifications stay with the single-machine worker for now (a partition sees only its share of the
            // farm; docs/scale-out.md).
            var processor = PrintFarmHostingExtensions.CreateProcessor(_services, alerts: false, PrintFarmHostingExtensions.CreateGuard(_options));
            var pipeline = new PartitionPipeline<StreamPosition>(
                processor,
                log,
                new KvCheckpointStore(bucket, JetStreamLayout.CheckpointKey(partition), _logger),
                _channels,
                _services.GetRequiredService<DeadLetterStore>(),
                metrics,
                _options,
                time,
                _logger,
                _services.GetRequiredService<Alerts.AlertQueue>(),
                _services.GetRequiredService<Alerts.DeliveredLog>());
            _partitions.Add((log, pipeline));
            await pipeline.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(_partitions.Select(p => p.Pipeline.RunAsync(stoppingToken))).ConfigureAwait(false);
        }
        finally
        {
            _channels.Lines.Writer.TryComplete();
        }
    }

    public override void Dispose()
    {
        foreach (var (log, pipeline) in _partitions)
        {
            pipeline.Dispose();
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _nats?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose();
    }

    // Created with Limits retention when missing; an existing stream is used as it is (its operator may have tuned it).
    private async Task EnsureStreamAsync(NatsJSContext js, ClusterOptions cluster, CancellationToken cancellationToken)
    {
        try
        {
            await js.GetStreamAsync(cluster.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            var subjects = cluster.PartitionPrefix + ".>";
            await js.CreateStreamAsync(
                new StreamConfig(cluster.Stream, [subjects])
                {
                    NumReplicas = cluster.Replicas,
                    Storage = StreamConfigStorage.File,
                    Retention = StreamConfigRetention.Limits,
                    Discard = StreamConfigDiscard.Old,
                    MaxAge = cluster.Retention,
                },
                cancellationToken).ConfigureAwait(false);
            Log.StreamCreated(_logger, cluster.Stream, subjects, cluster.Replicas, cluster.Retention);
        }
    }
}
