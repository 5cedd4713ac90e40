using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Checkpoints;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// The single-machine worker's pipeline: one <see cref="PartitionPipeline{TPosition}"/> reading the local journal,
/// its checkpoints in the data folder. When it ends it completes the writer's queue.
/// </summary>
internal sealed class TelemetryPipelineService : BackgroundService
{
    private readonly PartitionPipeline<JournalPosition> _pipeline;
    private readonly PipelineChannels _channels;

    public TelemetryPipelineService(
        TelemetryProcessor processor,
        PipelineChannels channels,
        MessageJournal journal,
        DeadLetterStore deadLetters,
        CheckpointStore checkpoints,
        PrintFarmInstrumentation metrics,
        IOptions<PrintFarmOptions> options,
        TimeProvider time,
        ILogger<TelemetryPipelineService> logger,
        Alerts.AlertQueue alerts,
        Alerts.DeliveredLog delivered)
    {
        _channels = channels;
        _pipeline = new PartitionPipeline<JournalPosition>(processor, journal, checkpoints, channels, deadLetters, metrics, options.Value, time, logger, alerts, delivered);
    }

    /// <summary>The journal position the processor's state reflects.</summary>
    public JournalPosition Processed => _pipeline.Processed;

    // Restoring belongs in StartAsync: it must be done before the MQTT service (started after this one) subscribes,
    // and from .NET 10 ExecuteAsync runs wholly on the thread pool, concurrently with the next service's start.
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await _pipeline.StartAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _pipeline.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _pipeline.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            _channels.Lines.Writer.TryComplete();
        }
    }
}
