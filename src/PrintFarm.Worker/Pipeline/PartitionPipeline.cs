using Microsoft.Extensions.Logging;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// Drives one pure <see cref="TelemetryProcessor"/> from one <see cref="IMessageLog{TPosition}"/>: one loop reads
/// durable messages in order and processes them, another flushes changed KPI windows every
/// <see cref="PrintFarmOptions.FlushInterval"/> and takes a checkpoint every <see cref="PrintFarmOptions.CheckpointInterval"/>.
/// Both hold an async gate around the processor and hand their lines to the writer inside it, so the writer sees
/// lines in processing order. Whatever fills the log — the local journal, or a JetStream partition — this is the
/// same code.
/// <para>
/// A checkpoint is the processor's state plus the log position it reflects. It is written only once the writer
/// has put every line produced before it into InfluxDB or the spool (a barrier in the lines queue) and the dead
/// letters are on disk; then the log releases the records before it. A restart restores the checkpoint and reads
/// the log from its position: every message is reflected exactly once in the state, and lines written twice are
/// the same points, which InfluxDB overwrites.
/// </para>
/// A message the processor rejects — or that makes it throw — is dead-lettered, counted and logged; the loop goes on.
/// </summary>
/// <typeparam name="TPosition">The log's position type.</typeparam>
internal sealed class PartitionPipeline<TPosition> : IDisposable
    where TPosition : struct
{
    private const int SliceSize = 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TelemetryProcessor _processor;
    private readonly PipelineChannels _channels;
    private readonly IMessageLog<TPosition> _log;
    private readonly ICheckpointStore<TPosition> _checkpoints;
    private readonly DeadLetterStore _deadLetters;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;
    private readonly TimeSpan _flushInterval;
    private readonly TimeSpan _checkpointInterval;
    private readonly bool _acceptCheckpointLoss;
    private readonly int _maxPayloadBytes;
    private readonly List<Rejected> _rejected = [];
    private readonly Alerts.AlertQueue _alerts;
    private readonly Alerts.DeliveredLog _delivered;
    private IMessageLogReader<TPosition>? _reader;
    private TPosition _processed;
    private long _lastCheckpoint;

    public PartitionPipeline(
        TelemetryProcessor processor,
        IMessageLog<TPosition> log,
        ICheckpointStore<TPosition> checkpoints,
        PipelineChannels channels,
        DeadLetterStore deadLetters,
        PrintFarmInstrumentation metrics,
        PrintFarmOptions options,
        TimeProvider time,
        ILogger logger,
        Alerts.AlertQueue alerts,
        Alerts.DeliveredLog delivered)
    {
        _processor = processor;
        _log = log;
        _checkpoints = checkpoints;
        _channels = channels;
        _deadLetters = deadLetters;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _alerts = alerts;
        _delivered = delivered;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
        _flushInterval = options.FlushInterval;
        _checkpointInterval = options.CheckpointInterval;
        _acceptCheckpointLoss = options.AcceptCheckpointLoss;
        _maxPayloadBytes = options.MaxPayloadBytes;
    }

    /// <summary>How long shutdown waits for the final checkpoint's lines to reach InfluxDB or the spool.</summary>
    internal static TimeSpan FinalCheckpointTimeout { get; } = TimeSpan.FromSeconds(15);

    /// <summary>How long shutdown goes on processing what the journal holds before leaving the rest for the next start.</summary>
    internal static TimeSpan ShutdownDrainTime { get; } = TimeSpan.FromSeconds(5);

    /// <summary>The log position the processor's state reflects.</summary>
    public TPosition Processed => _processed;

    /// <summary>How long ago the last checkpoint was saved (or, before the first, the pipeline started).</summary>
    public TimeSpan CheckpointAge => _time.GetElapsedTime(Interlocked.Read(ref _lastCheckpoint));

    /// <summary>
    /// Asked before anything produced leaves for the writer or a checkpoint is saved: false once this worker may no
    /// longer own the partition (its lease ran out). The pipeline then drops what it holds and ends without a final
    /// checkpoint; the next owner replays from the last one. Null (the single-machine worker): always owned.
    /// </summary>
    public Func<bool>? Owns { get; init; }

    /// <summary>
    /// Clustered mode: called at each flush and checkpoint, inside the gate and after the ownership check, with the
    /// <c>kpi</c> points flushed, the watermark and the log position they reflect (the farm alert stage's partials,
    /// docs/scale-out.md). Null: nothing is called.
    /// </summary>
    public Func<IReadOnlyList<PrintFarm.Core.Kpis.KpiPoint>, DateTimeOffset?, TPosition, CancellationToken, ValueTask>? Partials { get; init; }

    /// <summary>True once <see cref="Owns"/> said no: the pipeline stopped writing.</summary>
    public bool Lost => Volatile.Read(ref _lost);

    private bool _lost;

    /// <summary>
    /// Restores the newest usable checkpoint (the store falls back through the kept ones, or refuses to start) and
    /// opens the log at its position. Done before anything is read: the MQTT service subscribes only after it.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var savedAt = "?";
        var (from, position) = await _checkpoints.RestoreAsync(
            checkpoint =>
            {
                var dropped = _processor.RestoreCheckpoint(checkpoint);
                _alerts.RestoreOutbox(checkpoint[Alerts.AlertQueue.OutboxProperty]);
                if (dropped > 0)
                {
                    Log.CheckpointWindowsDropped(_logger, dropped);
                }

                savedAt = checkpoint["saved_at"]?.ToString() ?? "?";
            },
            _log,
            _acceptCheckpointLoss,
            cancellationToken).ConfigureAwait(false);
        if (from is not null)
        {
            Log.CheckpointRestored(_logger, from, savedAt, _processor.Jobs.OpenJobs, _processor.Kpis.OpenSeries, _processor.Kpis.Watermark);
        }

        _reader = _log.OpenReader(position);
        _processed = _reader.Position;
        _deadLetters.ReplayBefore(_log.NextSequence);
        if (_log.DescribeBacklog(_processed) is { } backlog)
        {
            Log.LogResuming(_logger, _log.Name, _processed.ToString()!, backlog);
        }

        Interlocked.Exchange(ref _lastCheckpoint, _time.GetTimestamp());
    }

    public void Dispose()
    {
        _reader?.Dispose();
        _gate.Dispose();
    }

    /// <summary>
    /// Processes the log until it is completed and read to its end, or until <paramref name="stoppingToken"/> (then
    /// for at most <see cref="ShutdownDrainTime"/> more); ends with a last flush and checkpoint.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var flushCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var flushing = FlushLoopAsync(flushCts.Token);
        try
        {
            await ProcessLoopAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (PartitionLostException)
        {
            // Owns() said no: nothing more leaves this pipeline.
        }
        finally
        {
            await flushCts.CancelAsync().ConfigureAwait(false);
            await flushing.ConfigureAwait(false);
            try
            {
                // A lost partition's CheckpointAsync throws PartitionLostException before it writes anything.

                // Last flush and checkpoint, so the open windows' latest state reaches the writer and a restart
                // replays nothing. If the lines cannot be made durable in time, the journal keeps the messages.
                using var timeout = new CancellationTokenSource(FinalCheckpointTimeout, _time);
                await CheckpointAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.CheckpointBarrierTimedOut(_logger, FinalCheckpointTimeout);
            }
            catch (PartitionLostException)
            {
                Log.PartitionLost(_logger, _log.Name, _processed.ToString()!);
            }
            catch (Exception ex)
            {
                _metrics.LoopFailures.Add(1, new KeyValuePair<string, object?>("loop", "checkpoint"));
                Log.LoopFailed(_logger, ex, "final checkpoint", ex.Message, TimeSpan.Zero);
            }
        }
    }

    // Runs until the journal is completed (by the MQTT service on stop) and read to its end; once stopping, for at most
    // ShutdownDrainTime more: what is not processed then stays in the journal, and the next start reads it.
    private async Task ProcessLoopAsync(CancellationToken stoppingToken)
    {
        var reader = _reader!;
        var output = new ProcessorOutput();
        long? drainStarted = null;
        while (true)
        {
            if (stoppingToken.IsCancellationRequested)
            {
                drainStarted ??= _time.GetTimestamp();
                if (_time.GetElapsedTime(drainStarted.Value) > ShutdownDrainTime)
                {
                    return;
                }
            }

            try
            {
                if (!await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                for (var i = 0; i < SliceSize && reader.TryReadBorrowed(out var record); i++)
                {
                    ProcessOne(record, output);
                }

                _processed = reader.Position;

                await HandOverAsync(output, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    private void ProcessOne(in LogRecord record, ProcessorOutput output)
    {
        var sequence = record.Sequence;
        var message = new InboundMessage(record.Topic, record.Payload, record.Retained, record.ReceivedAt);
        if (record.OversizeBytes > 0)
        {
            // The reader skipped its payload on the socket: only its metadata is in the journal.
            var detail = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"payload is {record.OversizeBytes} bytes, the limit is {_maxPayloadBytes}; skipped on the socket, only its topic, size and receive time are kept");
            Reject(sequence, message, RejectReasons.Oversize, detail, record.OversizeBytes);
            if (_throttle.ShouldLog(RejectReasons.Oversize, out var skipped))
            {
                Log.MessageRejected(_logger, message.Topic, RejectReasons.Oversize, detail, skipped);
            }

            return;
        }

        AdapterResult result;
        var linesBefore = output.Lines.Count;
        var endedBefore = output.EndedJobs.Count;
        var lateBefore = output.LateJobs.Count;
        var alertsBefore = output.Alerts.Count;
        var notificationsBefore = output.Notifications.Count;
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
            output.Alerts.RemoveRange(alertsBefore, output.Alerts.Count - alertsBefore);
            output.Notifications.RemoveRange(notificationsBefore, output.Notifications.Count - notificationsBefore);
            Reject(sequence, message, RejectReasons.ProcessingError, ex.GetType().Name + ": " + ex.Message);
            if (_throttle.ShouldLog(RejectReasons.ProcessingError, out var suppressed))
            {
                Log.ProcessingFailed(_logger, ex, message.Topic, suppressed);
            }

            return;
        }

        if (!result.Accepted)
        {
            Reject(sequence, message, result.Reason!, result.Detail ?? string.Empty);
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
            // Which sizes had closed: a job late for its hour may still count in its day (issue 19 item 5).
            var kpis = _processor.Kpis;
            var closed = string.Join(", ", kpis.Windows.Where(w => kpis.IsWindowClosed(w, late.End)).Select(w => w.Name));
            var counted = string.Join(", ", kpis.Windows.Where(w => !kpis.IsWindowClosed(w, late.End)).Select(w => w.Name));
            Log.LateJob(_logger, late.JobId, late.Printer, late.End, closed, kpis.Watermark, counted.Length == 0 ? "none" : counted);
        }
    }

    private void Reject(long sequence, in InboundMessage message, string reason, string detail, long oversizeBytes = 0)
    {
        _metrics.MessagesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (reason == RejectReasons.Oversize)
        {
            // An oversize payload is not kept (issue 18 item 11): its size is.
            _rejected.Add(new Rejected(sequence, message with { Payload = ReadOnlyMemory<byte>.Empty }, reason, detail, Math.Max(oversizeBytes, message.Payload.Length)));
            return;
        }

        // The payload is borrowed from the journal reader's buffer until the next read: keep a copy.
        _rejected.Add(new Rejected(sequence, message with { Payload = message.Payload.ToArray() }, reason, detail, 0));
    }

    private async Task FlushLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_flushInterval, _time);
        var output = new ProcessorOutput { KeepKpiPoints = Partials is not null };
        while (true)
        {
            try
            {
                if (!await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                if (_time.GetElapsedTime(_lastCheckpoint) >= _checkpointInterval)
                {
                    await CheckpointAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    _processor.Flush(output);
                    await HandOverAsync(output, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (PartitionLostException)
            {
                return;
            }
            catch (Exception ex)
            {
                // Supervised: a failed pass is logged, counted and tried again at the next tick.
                _metrics.LoopFailures.Add(1, new KeyValuePair<string, object?>("loop", "flush"));
                Log.LoopFailed(_logger, ex, "flush and checkpoint", ex.Message, _flushInterval);
            }
        }
    }

    /// <summary>
    /// Flushes the windows, snapshots the state and its journal position, and — once every line and dead letter
    /// produced up to there is durable — writes the checkpoint and deletes the journal segments it covers.
    /// </summary>
    private async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        var output = new ProcessorOutput { KeepKpiPoints = Partials is not null };
        var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CheckpointSnapshot snapshot;
        TPosition position;
        System.Text.Json.Nodes.JsonArray outbox;
        IReadOnlySet<string> outboxKeys;
        long delivered;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = _time.GetTimestamp();
            _processor.Flush(output);
            snapshot = _processor.CaptureCheckpoint(_time.GetUtcNow());
            position = _processed;
            _metrics.CheckpointDuration.Record(_time.GetElapsedTime(started).TotalSeconds);
            await HandOverAsync(output, cancellationToken).ConfigureAwait(false);
            // In this order: whatever the outbox holds is then among the keys, even if the publisher delivers it meanwhile.
            delivered = _delivered.Mark();
            outboxKeys = _alerts.PendingKeys();
            outbox = _alerts.CaptureOutbox(); // undelivered alerts and notifications of this state go into the checkpoint
            await _channels.Lines.Writer.WriteAsync(LineBatch.ForBarrier(barrier), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        TPosition retain;

        // Outside the gate: processing goes on while the writer catches up to the barrier.
        await _deadLetters.FlushAsync(cancellationToken).ConfigureAwait(false);
        await barrier.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Serialized here, beside processing: only the capture above held the gate.
            EnsureOwned(null);
            retain = await _checkpoints.SaveAsync(snapshot, position, writer => Alerts.AlertQueue.WriteOutbox(writer, outbox), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CheckpointSaveFailed(_logger, ex, _checkpoints.Location);
            return;
        }

        Interlocked.Exchange(ref _lastCheckpoint, _time.GetTimestamp());

        // A restart from this checkpoint can bring back only what its outbox holds and what comes after it.
        _delivered.Compact(delivered, outboxKeys);

        // Only what every kept checkpoint has covered: a damaged newest one falls back to an older one, whose
        // records must still be there.
        _log.Release(retain);
    }

    // Inside the gate: lines and dead letters leave in processing order.
    private async ValueTask HandOverAsync(ProcessorOutput output, CancellationToken cancellationToken)
    {
        EnsureOwned(output);
        foreach (var rejected in _rejected)
        {
            var m = rejected.Message;
            await _deadLetters.WriteAsync(rejected.Sequence, m.Topic, m.Payload, m.Retained, m.ReceivedAt, rejected.Reason, rejected.Detail, rejected.OversizeBytes).ConfigureAwait(false);
        }

        _rejected.Clear();
        await _channels.PublishAsync(output.Lines, cancellationToken).ConfigureAwait(false);

        _alerts.Enqueue(output.Alerts);
        _alerts.Enqueue(output.Notifications);
        if (Partials is { } partials && output.KeepKpiPoints)
        {
            await partials(output.KpiPoints, _processor.Kpis.Watermark, _processed, cancellationToken).ConfigureAwait(false);
        }

        output.Clear();
    }

    private void EnsureOwned(ProcessorOutput? output)
    {
        if (Owns is null || (!Lost && Owns()))
        {
            return;
        }

        Volatile.Write(ref _lost, true);
        output?.Clear();
        _rejected.Clear();
        throw new PartitionLostException();
    }

    private readonly record struct Rejected(long Sequence, InboundMessage Message, string Reason, string Detail, long OversizeBytes);
}

/// <summary>The pipeline's partition is no longer this worker's: it stops without writing anything more.</summary>
internal sealed class PartitionLostException : Exception
{
    public PartitionLostException()
        : base("this worker no longer owns the partition")
    {
    }
}
