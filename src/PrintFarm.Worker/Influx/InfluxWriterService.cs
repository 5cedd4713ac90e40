using System.IO.Hashing;
using System.Text;
using System.Threading.Channels;
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
/// Batches lines from the pipeline and writes them to InfluxDB. Lines are spread over
/// <see cref="InfluxOptions.MaxConcurrentWrites"/> lanes by series, each with one request in flight: the database
/// works on as many requests at once, and a series' points arrive in the order they were produced. A lane sends its
/// batch when it holds <see cref="InfluxOptions.BatchSize"/> lines or its first line has waited
/// <see cref="InfluxOptions.BatchInterval"/>.
/// Network errors, 429 and 5xx are retried with exponential back-off (honouring <c>Retry-After</c>); after that, or
/// when the server refuses us rather than the data (any 4xx that is not bad data: 401, 403, 404, a proxy's 400), the
/// batch goes to the disk spool and a replay loop retries it until the database takes it — across restarts too, backing
/// off while refused, and <c>/readyz</c> fails meanwhile (<see cref="InfluxWriteHealth"/>). 413 splits the batch (on a
/// single line it is a refusal). What the database names as bad data (<see cref="InfluxAnswer"/>) is split down to the
/// bad lines, which are dead-lettered; the good lines of the batch are written.
/// While anything is spooled, new batches queue behind it, so the database receives each series in order. When the spool
/// itself cannot be written, the batch is held and retried: the pipeline then waits, and the journal keeps the
/// messages. A checkpoint barrier in the queue is completed only once every line before it is written or spooled.
/// </summary>
internal sealed class InfluxWriterService : BackgroundService
{
    // Longest wait between replays while the database refuses us (doubling from SpoolRetryInterval): a fixed token or
    // bucket is picked up within this long.
    private static readonly TimeSpan MaxRefusedRetryInterval = TimeSpan.FromMinutes(1);

    // Longest Retry-After honoured (Telegraf caps it at 600 s too): a server asking for more is asked again after this.
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(10);

    // When the retries of one batch began, and the wait chosen for the next one (see WithinRetryBudget).
    private static readonly ResiliencePropertyKey<long> RetryStarted = new("printfarm.influx.retry-started");
    private static readonly ResiliencePropertyKey<TimeSpan> NextRetryDelay = new("printfarm.influx.next-retry-delay");

    // The server asked not to be written to before this timestamp (Retry-After); the replay loop waits for it.
    private long _holdUntil;

    private readonly ILineSink _client;
    private readonly InfluxWriteHealth _health;
    private readonly PipelineChannels _channels;
    private readonly DeadLetterStore _deadLetters;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<InfluxWriterService> _logger;
    private readonly InfluxOptions _options;
    private readonly ResiliencePipeline<WriteResult> _retry;
    private readonly SemaphoreSlim _spooled = new(0, 1);
    private TaskCompletionSource? _laneIdle;
    private readonly LogThrottle _throttle;

    public InfluxWriterService(
        ILineSink client,
        PipelineChannels channels,
        DeadLetterStore deadLetters,
        DataFolders folders,
        PrintFarmInstrumentation metrics,
        IOptions<PrintFarmOptions> options,
        TimeProvider time,
        ILogger<InfluxWriterService> logger,
        InfluxWriteHealth health)
    {
        _client = client;
        _health = health;
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
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result.Status == WriteStatus.Transient && WithinRetryBudget(args.Context, args.Outcome.Result, args.AttemptNumber)),
                MaxRetryAttempts = Math.Max(1, _options.MaxRetries),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Context.Properties.GetValue(NextRetryDelay, _options.RetryDelay)),
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

    /// <summary>
    /// Whether a batch is retried in place once more (issue 18 item 10): only if the wait — the server's
    /// <c>Retry-After</c>, else exponential back-off from <see cref="InfluxOptions.RetryDelay"/> with jitter — ends
    /// within <see cref="InfluxOptions.MaxRetryWait"/> of the first attempt. Otherwise the batch goes to the spool at
    /// once: its lane, the lines queued behind it and the checkpoint barrier go on, and the replay loop waits out the
    /// <c>Retry-After</c>.
    /// </summary>
    private bool WithinRetryBudget(ResilienceContext context, WriteResult result, int attempt)
    {
        var delay = result.RetryAfter ?? Backoff(attempt);
        var elapsed = _time.GetElapsedTime(context.Properties.GetValue(RetryStarted, _time.GetTimestamp()));
        if (elapsed + delay > _options.MaxRetryWait)
        {
            return false;
        }

        context.Properties.Set(NextRetryDelay, delay);
        return true;
    }

    private TimeSpan Backoff(int attempt)
    {
        // RetryDelay · 2^attempt, ±25 % jitter so lanes and workers do not retry in step.
        var exponential = _options.RetryDelay * Math.Pow(2, Math.Min(attempt, 16));
        return exponential * (0.75 + (Random.Shared.NextDouble() * 0.5));
    }

    // Remembers a server's Retry-After for the replay loop (capped at MaxRetryAfter).
    private void HoldFor(TimeSpan retryAfter)
    {
        var wait = retryAfter < MaxRetryAfter ? retryAfter : MaxRetryAfter;
        var until = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        long seen;
        while ((seen = Interlocked.Read(ref _holdUntil)) < until && Interlocked.CompareExchange(ref _holdUntil, until, seen) != seen)
        {
        }
    }

    // How much of a Retry-After is left.
    private TimeSpan HoldRemaining()
    {
        var left = Interlocked.Read(ref _holdUntil) - _time.GetTimestamp();
        return left > 0 ? TimeSpan.FromSeconds((double)left / _time.TimestampFrequency) : TimeSpan.Zero;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Spool.Count > 0)
        {
            Log.SpoolFound(_logger, Spool.Count);
        }

        using var replayCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var replaying = ReplayLoopAsync(replayCts.Token);
        var lanes = new WriteLane[Math.Max(1, _options.MaxConcurrentWrites)];
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] = new WriteLane(this, _options.BatchSize, stoppingToken);
        }

        try
        {
            // Runs until the pipeline completes the queue: on shutdown every line is written or spooled.
            await DistributeAsync(_channels.Lines.Reader, lanes).ConfigureAwait(false);
        }
        finally
        {
            foreach (var lane in lanes)
            {
                lane.Complete();
            }

            await Task.WhenAll(lanes.Select(l => l.Completion)).ConfigureAwait(false);
            foreach (var lane in lanes)
            {
                lane.Dispose();
            }
        }

        await replayCts.CancelAsync().ConfigureAwait(false);
        await replaying.ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _spooled.Dispose();
        base.Dispose();
    }

    // An idle lane sends what it has once the queue runs dry if it holds at least this many lines.
    private int EarlyBatch => Math.Max(1, _options.BatchSize / 10);

    // How long the last lines of a burst wait: a lane whose last batch was a burst's (EarlyBatch lines or more) sends
    // its remainder this soon, not a BatchInterval later; a trickle's lines still wait for BatchInterval.
    private TimeSpan BurstLinger => _options.BatchInterval < MaxBurstLinger ? _options.BatchInterval : MaxBurstLinger;

    private static readonly TimeSpan MaxBurstLinger = TimeSpan.FromMilliseconds(50);

    private Task ArmIdleSignal()
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _laneIdle, signal);
        return signal.Task;
    }

    // A lane finished everything it was given.
    private void LaneIdle() => Interlocked.Exchange(ref _laneIdle, null)?.TrySetResult();

    /// <summary>
    /// The lane a line goes through: a hash of its series key (measurement and tags), so every point of a series is
    /// written by the same lane, in the order it was queued. Points rewritten in place (a KPI window's running value,
    /// same series and time) then never overtake each other, whatever the other lanes do.
    /// </summary>
    internal static int LaneOf(ReadOnlySpan<byte> line, int lanes)
    {
        if (lanes <= 1)
        {
            return 0;
        }

        // The series key ends at the first space that is not escaped (line protocol escapes it as "\ ").
        var end = 0;
        while (true)
        {
            var i = line[end..].IndexOfAny((byte)' ', (byte)'\\');
            if (i < 0)
            {
                end = line.Length;
                break;
            }

            end += i;
            if (line[end] == (byte)' ')
            {
                break;
            }

            end = Math.Min(end + 2, line.Length);
        }

        return (int)(XxHash32.HashToUInt32(line[..end]) % (uint)lanes);
    }

    /// <inheritdoc cref="LaneOf(ReadOnlySpan{byte}, int)"/>
    internal static int LaneOf(string line, int lanes) => LaneOf(Encoding.UTF8.GetBytes(line), lanes);

    // The single reader of the queue: spreads lines over the lanes by series and hands a lane its batch when it holds
    // BatchSize lines or its oldest line has waited BatchInterval. A barrier ends every lane's batch early (a
    // checkpoint never waits for a batch to fill) and is completed once every lane has written or spooled all it had.
    private async Task DistributeAsync(ChannelReader<LineBatch> reader, WriteLane[] lanes)
    {
        while (true)
        {
            if (reader.TryRead(out var item))
            {
                _channels.Taken(item);
                if (item.Barrier is { } barrier)
                {
                    var passed = new Task[lanes.Length];
                    for (var i = 0; i < lanes.Length; i++)
                    {
                        await lanes[i].FlushAsync().ConfigureAwait(false);
                        passed[i] = await lanes[i].PassBarrierAsync().ConfigureAwait(false);
                    }

                    // Left open when a lane stopped with a batch neither written nor spooled: no checkpoint claims it.
                    _ = Task.WhenAll(passed).ContinueWith(static (_, b) => ((TaskCompletionSource)b!).TrySetResult(), barrier, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    continue;
                }

                var now = _time.GetTimestamp();
                using (var lines = item.Lines!)
                {
                    for (var i = 0; i < lines.Count; i++)
                    {
                        var line = lines.Line(i);
                        var lane = lanes[LaneOf(line, lanes.Length)];
                        if (lane.Add(line, now))
                        {
                            await lane.FlushAsync().ConfigureAwait(false);
                        }
                    }
                }

                continue;
            }

            // Nothing queued: hand over the batches that have waited long enough, and those of idle lanes that hold a
            // tenth of a batch (the end of a burst goes out now, not a BatchInterval later, while a trickle of
            // messages is still sent once per BatchInterval). What is left of a burst below a tenth of a batch waits
            // BurstLinger. Then wait for more lines, a lane going idle, or the next batch to come due.
            var due = TimeSpan.MaxValue;
            var busyWithEnough = false;
            foreach (var lane in lanes)
            {
                if (lane.Pending == 0)
                {
                    continue;
                }

                var remaining = (lane.LastBatch >= EarlyBatch ? BurstLinger : _options.BatchInterval) - _time.GetElapsedTime(lane.FirstAt);
                if (remaining <= TimeSpan.Zero || (lane.Pending >= EarlyBatch && lane.Idle))
                {
                    await lane.FlushAsync().ConfigureAwait(false);
                    continue;
                }

                due = remaining < due ? remaining : due;
                busyWithEnough |= lane.Pending >= EarlyBatch;
            }

            // Armed before the lanes are looked at again, so a lane going idle in between is not missed.
            var idle = busyWithEnough ? ArmIdleSignal() : null;
            if (idle is not null && lanes.Any(l => l.Pending >= EarlyBatch && l.Idle))
            {
                continue;
            }

            using var wait = due == TimeSpan.MaxValue ? null : new CancellationTokenSource(due, _time);
            try
            {
                var more = reader.WaitToReadAsync(wait?.Token ?? CancellationToken.None);
                if (idle is null || more.IsCompleted)
                {
                    if (!await more.ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                var moreTask = more.AsTask();
                if (await Task.WhenAny(moreTask, idle).ConfigureAwait(false) == moreTask && !await moreTask.ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (OperationCanceledException)
            {
                // A batch came due.
            }
        }

        foreach (var lane in lanes)
        {
            await lane.FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Writes the batch, or spools it; holds it and tries again while neither works. False only when stopping first.</summary>
    private async Task<bool> WriteOrSpoolAsync(LineBuffer batch, CancellationToken stoppingToken)
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
    private async Task<WriteResult?> DeliverAsync(LineBuffer lines, bool retry, CancellationToken cancellationToken)
    {
        using var activity = _metrics.ActivitySource.StartActivity("influx.write");
        activity?.SetTag("printfarm.lines", lines.Count);
        var started = _time.GetTimestamp();
        WriteResult result;
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(RetryStarted, started);
            result = retry
                ? await _retry.ExecuteAsync(static (_, state) => new ValueTask<WriteResult>(state.Client.WriteAsync(state.Lines, CancellationToken.None)), context, (Client: _client, Lines: lines)).ConfigureAwait(false)
                : await _client.WriteAsync(lines, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down while waiting to retry: keep the batch.
            return new WriteResult(WriteStatus.Transient, "stopping", "the worker is stopping", null);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (result.Status == WriteStatus.Transient && result.RetryAfter is { } retryAfter)
        {
            HoldFor(retryAfter);
            if (retry)
            {
                Log.InfluxBackOff(_logger, result.StatusText, retryAfter, lines.Count);
            }
        }

        _metrics.WriteDuration.Record(_time.GetElapsedTime(started).TotalSeconds);
        switch (result.Status)
        {
            case WriteStatus.Ok:
                _metrics.PointsWritten.Add(lines.Count);
                _health.Written();
                return null;

            case WriteStatus.TooLarge when lines.Count > 1:
                Log.InfluxSplitting(_logger, lines.Count);
                return await DeliverHalvesAsync(lines, retry, cancellationToken).ConfigureAwait(false);

            case WriteStatus.BadData when lines.Count > 1:
                // InfluxDB names the first bad line at best; halve until each bad line is alone. InfluxDB 1.x wrote the
                // good lines already; re-writing them is harmless: a point with the same series and time is overwritten.
                _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", result.StatusText));
                return await DeliverHalvesAsync(lines, retry, cancellationToken).ConfigureAwait(false);

            case WriteStatus.BadData:
                _metrics.PointsRejected.Add(lines.Count);
                _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", result.StatusText));
                var path = _deadLetters.WriteRejectedBatch(lines.ToLines(), result.StatusText, result.Error);
                Log.InfluxRejected(_logger, result.StatusText, result.Error, lines.Count, path ?? "no file: the dead letters' budget or disk refused them (see the error above)");
                return null;

            case WriteStatus.TooLarge:
                // One line too large: the server's limit is below any batch we could send. Keep it; the limit is a setting.
                result = result with { Status = WriteStatus.Refused, Hint = InfluxAnswer.TooLargeHint };
                goto default;

            default:
                _metrics.WriteFailures.Add(1, new KeyValuePair<string, object?>("status", result.StatusText));
                _health.Failed(result);
                return result;
        }
    }

    private async Task<WriteResult?> DeliverHalvesAsync(LineBuffer lines, bool retry, CancellationToken cancellationToken)
    {
        var half = lines.Count / 2;
        using var firstHalf = lines.Slice(0, half);
        using var secondHalf = lines.Slice(half, lines.Count - half);
        var first = await DeliverAsync(firstHalf, retry, cancellationToken).ConfigureAwait(false);

        // The first half is kept (outage or refusal): so is the whole batch, and the second half would meet the same.
        return first ?? await DeliverAsync(secondHalf, retry, cancellationToken).ConfigureAwait(false);
    }

    private bool SpoolBatch(LineBuffer batch)
    {
        try
        {
            foreach (var (file, lines) in Spool.Append(batch.ToLines()))
            {
                _metrics.PointsDroppedSpoolFull.Add(lines);
                Log.SpoolFull(_logger, Spool.MaxBytes, file, lines);
            }

            _metrics.PointsSpooled.Add(batch.Count);
            WakeReplay();

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

    // Two lanes may spool at once: the semaphore (at most 1) is only released when it is not already.
    private void WakeReplay()
    {
        lock (_spooled)
        {
            if (_spooled.CurrentCount == 0)
            {
                _spooled.Release();
            }
        }
    }

    private async Task ReplayLoopAsync(CancellationToken cancellationToken)
    {
        var replayed = 0;
        var refusals = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (HoldRemaining() is { } hold && hold > TimeSpan.Zero && Spool.Count > 0)
                {
                    // The server asked for a pause (Retry-After): the spool waits it out; new batches join the spool.
                    await DelayAsync(hold, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (Spool.TryPeekOldest(out var name, out var lines))
                {
                    using var batch = LineBuffer.Of(lines);
                    var failure = await DeliverAsync(batch, retry: false, cancellationToken).ConfigureAwait(false);
                    if (failure is null)
                    {
                        Spool.Remove(name);
                        replayed++;
                        refusals = 0;
                        if (Spool.Count == 0)
                        {
                            Log.InfluxRecovered(_logger, replayed);
                            replayed = 0;
                        }

                        continue;
                    }

                    var f = failure.Value;
                    refusals = f.Status == WriteStatus.Refused ? refusals + 1 : 0;
                    var delay = ReplayDelay(f, refusals);

                    // One line a minute while the outage lasts, not one per retry.
                    if (f.Status == WriteStatus.Refused)
                    {
                        if (_throttle.ShouldLog("spool-refused", out _))
                        {
                            Log.InfluxRefused(_logger, f.StatusText, f.Error, f.Hint ?? "check PrintFarm:Influx", Spool.Count, delay);
                        }
                    }
                    else if (_throttle.ShouldLog("spool", out _))
                    {
                        Log.InfluxSpooled(_logger, f.StatusText, f.Error, Spool.Count, delay);
                    }

                    await DelayAsync(delay, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// How long the replay loop waits after a failed replay: SpoolRetryInterval, doubled per consecutive refusal up to
    /// <see cref="MaxRefusedRetryInterval"/> (a wrong token does not fix itself within seconds).
    /// </summary>
    private TimeSpan ReplayDelay(WriteResult failure, int refusals)
    {
        var interval = _options.SpoolRetryInterval;
        if (failure.RetryAfter is { } retryAfter && failure.Status == WriteStatus.Transient)
        {
            // The hold set by this answer is waited out at the top of the loop; a Retry-After shorter than
            // SpoolRetryInterval is honoured as it is, not stretched. "Retry-After: 0" gets RetryDelay, not a busy loop.
            return retryAfter > TimeSpan.Zero ? TimeSpan.Zero : _options.RetryDelay;
        }

        if (failure.Status == WriteStatus.Refused && refusals > 1)
        {
            var cap = interval > MaxRefusedRetryInterval ? interval : MaxRefusedRetryInterval;
            var grown = interval * Math.Pow(2, Math.Min(refusals - 1, 16));
            return grown < cap ? grown : cap;
        }

        return interval;
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

    /// <summary>One ordered stream of batches to the database, with at most one request in flight.</summary>
    private sealed class WriteLane : IDisposable
    {
        private readonly InfluxWriterService _writer;
        private readonly int _batchSize;
        private readonly CancellationToken _stopping;

        // One batch waits while the one before it is written: the reader then waits, and the queue behind it fills.
        private readonly Channel<(LineBuffer? Lines, TaskCompletionSource? Barrier)> _work =
            Channel.CreateBounded<(LineBuffer?, TaskCompletionSource?)>(new BoundedChannelOptions(1)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = true,
            });

        // Lines are encoded as they are gathered: the strings the pipeline made die young (see LineBuffer).
        private LineBuffer _pending;
        private int _inFlight;

        public WriteLane(InfluxWriterService writer, int batchSize, CancellationToken stopping)
        {
            _writer = writer;
            _batchSize = Math.Max(1, batchSize);
            _stopping = stopping;
            _pending = new LineBuffer(_batchSize);
            Completion = Task.Run(RunAsync, CancellationToken.None);
        }

        /// <summary>Lines gathered for the next batch.</summary>
        public int Pending => _pending.Count;

        /// <summary>True when no batch is being written or waiting to be.</summary>
        public bool Idle => Volatile.Read(ref _inFlight) == 0;

        /// <summary>When the oldest pending line was gathered.</summary>
        public long FirstAt { get; private set; }

        /// <summary>Lines in the batch handed over last.</summary>
        public int LastBatch { get; private set; }

        public Task Completion { get; }

        /// <summary>Gathers a line; true when the batch is full.</summary>
        public bool Add(ReadOnlySpan<byte> line, long now)
        {
            if (_pending.Count == 0)
            {
                FirstAt = now;
            }

            _pending.Add(line);
            return _pending.Count >= _batchSize;
        }

        /// <summary>Hands the gathered lines over as a batch (waits while the lane is busy with the one before).</summary>
        public ValueTask FlushAsync()
        {
            if (_pending.Count == 0)
            {
                return ValueTask.CompletedTask;
            }

            var batch = _pending;
            LastBatch = batch.Count;
            _pending = new LineBuffer(_batchSize);
            Interlocked.Increment(ref _inFlight);
            return _work.Writer.WriteAsync((batch, null), CancellationToken.None);
        }

        /// <summary>Queues a barrier behind the batches handed over so far; the task completes once they are written or spooled.</summary>
        public async ValueTask<Task> PassBarrierAsync()
        {
            var passed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await _work.Writer.WriteAsync((null, passed), CancellationToken.None).ConfigureAwait(false);
            return passed.Task;
        }

        public void Complete() => _work.Writer.TryComplete();

        /// <summary>Once completed: returns the (empty) buffer the next batch would have gathered in.</summary>
        public void Dispose() => _pending.Dispose();

        private async Task RunAsync()
        {
            // False once a batch was neither written nor spooled (only when stopping): the barriers behind it stay
            // open, so no checkpoint claims its lines and the journal replays their messages at the next start.
            var intact = true;
            await foreach (var (lines, barrier) in _work.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (barrier is not null)
                {
                    if (intact)
                    {
                        barrier.TrySetResult();
                    }

                    continue;
                }

                using (lines)
                {
                    intact &= await _writer.WriteOrSpoolAsync(lines!, _stopping).ConfigureAwait(false);
                }

                if (Interlocked.Decrement(ref _inFlight) == 0)
                {
                    _writer.LaneIdle();
                }
            }
        }
    }
}
