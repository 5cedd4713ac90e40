using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// Every <see cref="HealthOptions.IngestInterval"/> writes an <c>ingest</c> point (the pipeline's gauges and its
/// counters' rates) to InfluxDB, so a stalled pipeline shows on the board without an OpenTelemetry collector; warns
/// once per kind when a cardinality cap starts folding values; and tracks whether the watermark moves (for <c>/readyz</c>).
/// </summary>
internal sealed class IngestHealthService : BackgroundService
{
    /// <summary>Measurement name of the worker's own health point.</summary>
    public const string Measurement = "ingest";

    private static readonly (string Counter, string Field)[] Rates =
    [
        ("printfarm.mqtt.messages.received", "messages_per_s"),
        ("printfarm.messages.rejected", "rejected_per_s"),
        ("printfarm.influx.points.written", "points_written_per_s"),
        ("printfarm.influx.points.spooled", "points_spooled_per_s"),
        ("printfarm.influx.points.dropped", "points_dropped_per_s"),
        ("printfarm.influx.write.failures", "write_failures_per_s"),
    ];

    private readonly PipelineGauges _gauges;
    private readonly PipelineChannels _channels;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly PrintFarmOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<IngestHealthService> _logger;
    private readonly ConcurrentDictionary<string, long> _totals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _previous = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly LineBuilder _line = new();
    private readonly MeterListener _listener = new();
    private DateTimeOffset? _lastWatermark;
    private long _watermarkMovedTicks;
    private long _messagesAtWatermarkMove;
    private long _latestEventAtWatermarkMove = long.MinValue;
    private long _latestEventAtTick = long.MinValue;
    private long _pointsWritten;

    public IngestHealthService(PipelineGauges gauges, PipelineChannels channels, PrintFarmInstrumentation metrics, IOptions<PrintFarmOptions> options, TimeProvider time, ILogger<IngestHealthService> logger)
    {
        _gauges = gauges;
        _channels = channels;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _watermarkMovedTicks = time.GetUtcNow().UtcTicks;
        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        // Called for every counter increment (several per message): no closure allocated per call.
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name, static (_, add) => add, static (_, total, add) => total + add, value));
        _listener.Start();
    }

    /// <summary>Points written by this service (tests).</summary>
    public long PointsWritten => Interlocked.Read(ref _pointsWritten);

    /// <summary>
    /// How long the watermark has not moved although messages with newer event times kept arriving; zero while it
    /// moves, while nothing arrives (an idle farm is not a stalled pipeline), and while what arrives is older than
    /// what was seen (history being loaded has nothing newer for the watermark to move to: issue 19 item 5).
    /// </summary>
    public TimeSpan WatermarkStalledFor
    {
        get
        {
            var messages = _totals.GetValueOrDefault("printfarm.mqtt.messages.received");
            if (messages == Interlocked.Read(ref _messagesAtWatermarkMove)
                || Interlocked.Read(ref _latestEventAtTick) == Interlocked.Read(ref _latestEventAtWatermarkMove))
            {
                return TimeSpan.Zero;
            }

            return _time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _watermarkMovedTicks), TimeSpan.Zero);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = _options.Health.IngestInterval;
        var last = _time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            // A pass that throws is logged and retried at the next interval: this loop must not die.
            try
            {
                var now = _time.GetUtcNow();
                Tick(now, (now - last).TotalSeconds);
                last = now;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.IngestPointFailed(_logger, ex);
            }
        }
    }

    public override void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }

    private void Tick(DateTimeOffset now, double seconds)
    {
        var figures = _gauges.Read();
        TrackWatermark(figures.Watermark, figures.LatestEvent, now);
        WarnOnCaps();
        _line.Measurement(Measurement)
            .Tag("farm", _options.Farm)
            .Field("inbound_depth", figures.InboundDepth)
            .Field("lines_depth", figures.LinesDepth)
            .Field("spool_bytes", figures.SpoolBytes)
            .Field("spool_batches", (long)figures.SpoolBatches)
            .Field("spool_oldest_age_s", figures.SpoolOldestAgeSeconds)
            .Field("watermark_lag_s", figures.WatermarkLagSeconds)
            .Field("checkpoint_age_s", figures.CheckpointAgeSeconds)
            .Field("mqtt_connected", figures.MqttConnected)
            .Field("open_jobs", (long)figures.OpenJobs)
            .Field("open_windows", (long)figures.OpenWindows)
            .Field("folded_values", _gauges.Guard.Caps.Sum(c => c.Folded));
        foreach (var (counter, field) in Rates)
        {
            var total = _totals.GetValueOrDefault(counter);
            var delta = total - _previous.GetValueOrDefault(counter);
            _previous[counter] = total;
            _line.Field(field, seconds > 0 ? Math.Round(delta / seconds, 3) : 0);
        }

        WriteIngestPoint(_line.Build(now));
    }

    /// <summary>
    /// The one place the worker's own points enter the write path: the lines queue, beside the telemetry. When the
    /// queue is full or closed the point is skipped: it describes this moment only, and the next one follows.
    /// </summary>
    private void WriteIngestPoint(string line)
    {
        if (_channels.TryPublish([line]))
        {
            Interlocked.Increment(ref _pointsWritten);
        }
    }

    private void TrackWatermark(DateTimeOffset? watermark, DateTimeOffset? latestEvent, DateTimeOffset now)
    {
        var latest = latestEvent?.UtcTicks ?? long.MinValue;
        Interlocked.Exchange(ref _latestEventAtTick, latest);
        if (watermark != _lastWatermark)
        {
            _lastWatermark = watermark;
            Interlocked.Exchange(ref _latestEventAtWatermarkMove, latest);
            Interlocked.Exchange(ref _watermarkMovedTicks, now.UtcTicks);
            Interlocked.Exchange(ref _messagesAtWatermarkMove, _totals.GetValueOrDefault("printfarm.mqtt.messages.received"));
        }
    }

    private void WarnOnCaps()
    {
        foreach (var cap in _gauges.Guard.Caps)
        {
            if (cap.FirstFolded is { } value && _warned.Add(cap.Kind))
            {
                var setting = cap.Kind switch { "printer" => "Printers", "toy" => "Toys", _ => "Materials" };
                Log.CardinalityCapReached(_logger, cap.Kind, cap.Max, setting, value);
            }
        }
    }
}
