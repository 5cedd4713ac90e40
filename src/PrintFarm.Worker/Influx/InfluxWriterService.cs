using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// Batches lines from the pipeline and writes them to InfluxDB. A batch is sent when it holds
/// <see cref="InfluxOptions.BatchSize"/> lines or its first line has waited <see cref="InfluxOptions.BatchInterval"/>.
/// Network errors, 429 and 5xx are retried with exponential back-off (honouring <c>Retry-After</c>); after that, or
/// on 401/403/404, the batch goes to the disk spool and a replay loop retries it until the database takes it —
/// across restarts too. 413 splits the batch; 400/422 narrows it down to the bad lines and dead-letters those.
/// While anything is spooled, new batches queue behind it, so the database receives data in order. When the spool
/// itself cannot be written, the batch is held and retried: the pipeline then waits, and the journal keeps the
/// messages. A checkpoint barrier in the queue is completed only once every line before it is written or spooled.
/// </summary>
internal sealed class InfluxWriterService : BackgroundService
{
    // Below this many lines a batch refused as bad data is dead-lettered whole rather than split further.
    private const int BadDataSplitFloor = 64;

    private readonly ILineSink _client;
    private readonly PipelineChannels _channels;
    private readonly DeadLetterStore _deadLetters;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<InfluxWriterService> _logger;
    private readonly InfluxOptions _options;
    private readonly ResiliencePipeline<WriteResult> _retry;
    private readonly SemaphoreSlim _spooled = new(0, 1);
    private readonly LogThrottle _throttle;

    public InfluxWriterService(
        ILineSink client,
        PipelineChannels channels,
        DeadLetterStore deadLetters,
        DataFolders folders,
        PrintFarmInstrumentation metrics,
        IOptions<PrintFarmOptions> options,
        TimeProvider time,
        ILogger<InfluxWriterService> logger)
    {
        _client = client;
        _channels = channels;
        _deadLetters = deadLetters;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _options = options.Value.Influx;
        _throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        Spool = new LineSpool(folders.Spool, _options.SpoolMaxBytes, time);
        _retry = new ResiliencePipelineBuilder<WriteResult> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<WriteResult>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result.Status == WriteStatus.Transient),
                MaxRetryAttempts = Math.Max(1, _options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryDelay,
                MaxDelay = TimeSpan.FromMinutes(2),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result.RetryAfter),
                OnRetry = args =>
                {
                    _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", args.Outcome.Result.StatusText));
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>The disk spool.</summary>
    public LineSpool Spool { get; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Spool.Count > 0)
        {
            Log.SpoolFound(_logger, Spool.Count);
        }

        using var replayCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var replaying = ReplayLoopAsync(replayCts.Token);
        var reader = _channels.Lines.Reader;
        var batch = new List<string>(_options.BatchSize + PipelineChannels.LinesPerBatch);
        var barriers = new List<TaskCompletionSource>();

        // Runs until the pipeline completes the queue: on shutdown every line is written or spooled.
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            await FillAsync(reader, batch, barriers).ConfigureAwait(false);
            if (batch.Count > 0 && !await WriteOrSpoolAsync(batch, stoppingToken).ConfigureAwait(false))
            {
                // Stopping while neither the database nor the spool takes the batch: its barriers stay open, so no
                // checkpoint claims these lines, and the journal replays their messages at the next start.
                batch.Clear();
                barriers.Clear();
                continue;
            }

            batch.Clear();
            foreach (var barrier in barriers)
            {
                barrier.TrySetResult();
            }

            barriers.Clear();
        }

        await replayCts.CancelAsync().ConfigureAwait(false);
        await replaying.ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _spooled.Dispose();
        base.Dispose();
    }

    // Fills a batch up to BatchSize lines or BatchInterval; a barrier ends the batch early, so a checkpoint never
    // waits for a batch to fill.
    private async Task FillAsync(System.Threading.Channels.ChannelReader<LineBatch> reader, List<string> batch, List<TaskCompletionSource> barriers)
    {
        var started = _time.GetTimestamp();
        while (batch.Count < _options.BatchSize)
        {
            if (reader.TryRead(out var item))
            {
                _channels.Taken(item);
                if (item.Barrier is { } barrier)
                {
                    barriers.Add(barrier);
                    return;
                }

                batch.AddRange(item.Lines);
                continue;
            }

            var remaining = _options.BatchInterval - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            using var wait = new CancellationTokenSource(remaining, _time);
            try
            {
                if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Writes the batch, or spools it; holds it and tries again while neither works. False only when stopping first.</summary>
    private async Task<bool> WriteOrSpoolAsync(List<string> batch, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                if (Spool.Count == 0 && await DeliverAsync(batch, retry: !stoppingToken.IsCancellationRequested, stoppingToken).ConfigureAwait(false) is null)
                {
                    return true;
                }

                if (SpoolBatch(batch))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Supervised: an unexpected failure is logged and counted, and the batch is tried again.
                _metrics.LoopFailures.Add(1, new KeyValuePair<string, object?>("loop", "influx-writer"));
                Log.LoopFailed(_logger, ex, "InfluxDB writer", ex.Message, _options.SpoolRetryInterval);
            }

            if (stoppingToken.IsCancellationRequested)
            {
                return false;
            }

            await DelayAsync(_options.SpoolRetryInterval, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes a batch; returns null when it is done with (written, or dead-lettered as bad data), else why it must be kept.</summary>
    private async Task<WriteResult?> DeliverAsync(IReadOnlyList<string> lines, bool retry, CancellationToken cancellationToken)
    {
        using var activity = _metrics.ActivitySource.StartActivity("influx.write");
        activity?.SetTag("printfarm.lines", lines.Count);
        var started = _time.GetTimestamp();
        WriteResult result;
        try
        {
            result = retry
                ? await _retry.ExecuteAsync(static (state, _) => new ValueTask<WriteResult>(state.Client.WriteAsync(state.Lines, CancellationToken.None)), (Client: _client, Lines: lines), cancellationToken).ConfigureAwait(false)
                : await _client.WriteAsync(lines, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down while waiting to retry: keep the batch.
            return new WriteResult(WriteStatus.Transient, "stopping", "the worker is stopping", null);
        }

        _metrics.WriteDuration.Record(_time.GetElapsedTime(started).TotalSeconds);
        switch (result.Status)
        {
            case WriteStatus.Ok:
                _metrics.PointsWritten.Add(lines.Count);
                return null;

            case WriteStatus.TooLarge when lines.Count > 1:
                Log.InfluxSplitting(_logger, lines.Count);
                return await DeliverHalvesAsync(lines, retry, cancellationToken).ConfigureAwait(false);

            case WriteStatus.BadData when lines.Count > BadDataSplitFloor:
                // InfluxDB names the first bad line at best; halve until the bad lines are isolated.
                // Re-writing good lines is harmless: a point with the same series and time is overwritten.
                return await DeliverHalvesAsync(lines, retry, cancellationToken).ConfigureAwait(false);

            case WriteStatus.BadData:
            case WriteStatus.TooLarge:
                _metrics.PointsRejected.Add(lines.Count);
                _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", result.StatusText));
                var path = _deadLetters.WriteRejectedBatch(lines, result.StatusText, result.Error);
                Log.InfluxRejected(_logger, result.StatusText, result.Error, lines.Count, path);
                return null;

            default:
                _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", result.StatusText));
                return result;
        }
    }

    private async Task<WriteResult?> DeliverHalvesAsync(IReadOnlyList<string> lines, bool retry, CancellationToken cancellationToken)
    {
        var half = lines.Count / 2;
        var first = await DeliverAsync(lines.Take(half).ToArray(), retry, cancellationToken).ConfigureAwait(false);
        var second = await DeliverAsync(lines.Skip(half).ToArray(), retry, cancellationToken).ConfigureAwait(false);
        return first ?? second;
    }

    private bool SpoolBatch(List<string> batch)
    {
        try
        {
            foreach (var (file, lines) in Spool.Append(batch))
            {
                _metrics.PointsDroppedSpoolFull.Add(lines);
                Log.SpoolFull(_logger, Spool.MaxBytes, file, lines);
            }

            _metrics.PointsSpooled.Add(batch.Count);
            if (_spooled.CurrentCount == 0)
            {
                _spooled.Release();
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _metrics.SpoolFailures.Add(1);
            if (_throttle.ShouldLog("spool-write", out _))
            {
                Log.SpoolWriteFailed(_logger, ex, Spool.Folder, batch.Count, _options.SpoolRetryInterval);
            }

            return false;
        }
    }

    private async Task ReplayLoopAsync(CancellationToken cancellationToken)
    {
        var replayed = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (Spool.TryPeekOldest(out var name, out var lines))
                {
                    var failure = await DeliverAsync(lines, retry: false, cancellationToken).ConfigureAwait(false);
                    if (failure is null)
                    {
                        Spool.Remove(name);
                        replayed++;
                        if (Spool.Count == 0)
                        {
                            Log.InfluxRecovered(_logger, replayed);
                            replayed = 0;
                        }

                        continue;
                    }

                    // One line a minute while the outage lasts, not one per retry.
                    if (_throttle.ShouldLog("spool", out _))
                    {
                        Log.InfluxSpooled(_logger, failure.Value.StatusText, failure.Value.Error, Spool.Count, _options.SpoolRetryInterval);
                    }

                    await DelayAsync(_options.SpoolRetryInterval, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await _spooled.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Supervised: a spooled file that cannot be read (or deleted) now may be readable later.
                _metrics.LoopFailures.Add(1, new KeyValuePair<string, object?>("loop", "spool-replay"));
                if (_throttle.ShouldLog("spool-replay", out _))
                {
                    Log.LoopFailed(_logger, ex, "spool replay", ex.Message, _options.SpoolRetryInterval);
                }

                await DelayAsync(_options.SpoolRetryInterval, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
