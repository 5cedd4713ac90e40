using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Checkpoints;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// Drives the pure <see cref="TelemetryProcessor"/>: one loop takes messages off the inbound queue, another flushes
/// changed KPI windows every <see cref="PrintFarmOptions.FlushInterval"/>. The processor is single-threaded, so both
/// take a lock around it; the lines it produces go to the writer's queue outside the lock. A message the processor
/// rejects — or that makes it throw — is dead-lettered, counted and logged; the loop goes on.
/// </summary>
internal sealed class TelemetryPipelineService : BackgroundService
{
    private readonly object _gate = new();
    private readonly TelemetryProcessor _processor;
    private readonly PipelineChannels _channels;
    private readonly DeadLetterStore _deadLetters;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<TelemetryPipelineService> _logger;
    private readonly LogThrottle _throttle;
    private readonly TimeSpan _flushInterval;
    private readonly TimeSpan _checkpointInterval;
    private readonly CheckpointStore _checkpoints;
    private readonly Alerts.AlertQueue _alerts;
    private long _lastCheckpoint;

    public TelemetryPipelineService(
        TelemetryProcessor processor,
        PipelineChannels channels,
        DeadLetterStore deadLetters,
        CheckpointStore checkpoints,
        PrintFarmInstrumentation metrics,
        IOptions<PrintFarmOptions> options,
        TimeProvider time,
        ILogger<TelemetryPipelineService> logger,
        Alerts.AlertQueue alerts)
    {
        _alerts = alerts;
        _processor = processor;
        _channels = channels;
        _deadLetters = deadLetters;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
        _flushInterval = options.Value.FlushInterval;
        _checkpointInterval = options.Value.CheckpointInterval;
        _checkpoints = checkpoints;
    }

    // Restoring belongs in StartAsync: it must be done before the MQTT service (started after this one) subscribes,
    // and from .NET 10 ExecuteAsync runs wholly on the thread pool, concurrently with the next service's start.
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Restore();
        _lastCheckpoint = _time.GetTimestamp();
        return base.StartAsync(cancellationToken);
    }

    private void Restore()
    {
        if (_checkpoints.TryLoad() is not { } checkpoint)
        {
            return;
        }

        try
        {
            lock (_gate)
            {
                var dropped = _processor.RestoreCheckpoint(checkpoint);
                if (dropped > 0)
                {
                    Log.CheckpointWindowsDropped(_logger, dropped);
                }
            }

            Log.CheckpointRestored(_logger, _checkpoints.Path, checkpoint["saved_at"]?.ToString() ?? "?", _processor.Jobs.OpenJobs, _processor.Kpis.OpenSeries, _processor.Kpis.Watermark);
        }
        catch (Exception ex) when (ex is CheckpointException or InvalidOperationException or FormatException or System.Text.Json.JsonException)
        {
            _checkpoints.MoveAside(ex.Message);
        }
    }

    private void SaveCheckpoint()
    {
        System.Text.Json.Nodes.JsonObject checkpoint;
        lock (_gate)
        {
            checkpoint = _processor.SaveCheckpoint(_time.GetUtcNow());
        }

        try
        {
            _checkpoints.Save(checkpoint);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CheckpointSaveFailed(_logger, ex, _checkpoints.Path);
        }

        _lastCheckpoint = _time.GetTimestamp();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var flushCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var flushing = FlushLoopAsync(flushCts.Token);
        try
        {
            await ProcessLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            await flushCts.CancelAsync().ConfigureAwait(false);
            await flushing.ConfigureAwait(false);

            // Last flush, so the open windows' latest state reaches the writer before it stops.
            var output = new ProcessorOutput();
            lock (_gate)
            {
                _processor.Flush(output);
            }

            await PublishAsync(output).ConfigureAwait(false);
            SaveCheckpoint();
            _channels.Lines.Writer.TryComplete();
        }
    }

    // Runs until the inbound queue is completed (by the MQTT service on stop) and drained: messages the broker has
    // already handed over are not abandoned on shutdown.
    private async Task ProcessLoopAsync()
    {
        var reader = _channels.Inbound.Reader;
        var output = new ProcessorOutput();
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            lock (_gate)
            {
                // Take a bounded slice so the lines of a burst reach the writer steadily.
                for (var i = 0; i < 1024 && reader.TryRead(out var message); i++)
                {
                    ProcessOne(message, output);
                }
            }

            await PublishAsync(output).ConfigureAwait(false);
        }
    }

    private void ProcessOne(in InboundMessage message, ProcessorOutput output)
    {
        AdapterResult result;
        var linesBefore = output.Lines.Count;
        var endedBefore = output.EndedJobs.Count;
        var lateBefore = output.LateJobs.Count;
        try
        {
            result = _processor.Process(message, output);
        }
        catch (Exception ex)
        {
            // A bug, not bad input: keep the message, say so loudly, and carry on with the next one.
            output.Lines.RemoveRange(linesBefore, output.Lines.Count - linesBefore);
            output.EndedJobs.RemoveRange(endedBefore, output.EndedJobs.Count - endedBefore);
            output.LateJobs.RemoveRange(lateBefore, output.LateJobs.Count - lateBefore);
            Reject(message, RejectReasons.ProcessingError, ex.GetType().Name + ": " + ex.Message);
            if (_throttle.ShouldLog(RejectReasons.ProcessingError, out var suppressed))
            {
                Log.ProcessingFailed(_logger, ex, message.Topic, suppressed);
            }

            return;
        }

        if (!result.Accepted)
        {
            Reject(message, result.Reason!, result.Detail ?? string.Empty);
            if (_throttle.ShouldLog(result.Reason!, out var suppressed))
            {
                Log.MessageRejected(_logger, message.Topic, result.Reason!, result.Detail ?? string.Empty, suppressed);
            }

            return;
        }

        for (var i = endedBefore; i < output.EndedJobs.Count; i++)
        {
            _metrics.JobsEnded.Add(1, new KeyValuePair<string, object?>("outcome", PointEncoder.OutcomeName(output.EndedJobs[i].Outcome)));
        }

        for (var i = lateBefore; i < output.LateJobs.Count; i++)
        {
            EndedJob late = output.LateJobs[i];
            _metrics.LateJobs.Add(1);
            Log.LateJob(_logger, late.JobId, late.Printer, late.End, _processor.Kpis.Watermark);
        }
    }

    private void Reject(in InboundMessage message, string reason, string detail)
    {
        _metrics.MessagesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
        _deadLetters.Write(message.Topic, message.Payload, message.Retained, message.ReceivedAt, reason, detail);
    }

    private async Task FlushLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_flushInterval, _time);
        var output = new ProcessorOutput();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    _processor.Flush(output);
                }

                await PublishAsync(output).ConfigureAwait(false);
                if (_time.GetElapsedTime(_lastCheckpoint) >= _checkpointInterval)
                {
                    SaveCheckpoint();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task PublishAsync(ProcessorOutput output)
    {
        var writer = _channels.Lines.Writer;
        foreach (var line in output.Lines)
        {
            if (!writer.TryWrite(line))
            {
                await writer.WriteAsync(line).ConfigureAwait(false);
            }
        }

        _alerts.Enqueue(output.Alerts);
        output.Clear();
    }
}
