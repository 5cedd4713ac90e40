using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Checkpoints;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Mqtt;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Operations;

/// <summary>The pipeline's own figures at one moment (gauges, the <c>ingest</c> point, <c>/readyz</c>).</summary>
internal readonly record struct PipelineFigures(
    long InboundDepth,
    long LinesDepth,
    long SpoolBytes,
    long SpoolMaxBytes,
    int SpoolBatches,
    double SpoolOldestAgeSeconds,
    double? WatermarkLagSeconds,
    DateTimeOffset? Watermark,
    DateTimeOffset? LatestEvent,
    double? CheckpointAgeSeconds,
    bool MqttConnected,
    int OpenJobs,
    int OpenWindows);

/// <summary>
/// Reads the pipeline's figures from the services that own them. Reads happen on the metrics reader's or the health
/// loop's thread while the pipeline runs: each figure is a single read, and figures taken from the pipeline's own
/// collections tolerate a concurrent change by keeping the last good value.
/// </summary>
internal sealed class PipelineGauges
{
    private readonly IServiceProvider _services;
    private readonly PipelineChannels _channels;
    private readonly Journal.MessageJournal _journal;
    private readonly TelemetryProcessor _processor;
    private readonly CheckpointStore _checkpoints;
    private readonly CardinalityGuard _guard;
    private readonly TimeProvider _time;
    private MqttIngestionService? _mqtt;
    private InfluxWriterService? _writer;
    private int _openJobs;

    public PipelineGauges(IServiceProvider services, PipelineChannels channels, Journal.MessageJournal journal, TelemetryProcessor processor, CheckpointStore checkpoints, CardinalityGuard guard, TimeProvider time)
    {
        _services = services;
        _channels = channels;
        _journal = journal;
        _processor = processor;
        _checkpoints = checkpoints;
        _guard = guard;
        _time = time;
    }

    /// <summary>The cardinality guard whose folds are counted.</summary>
    public CardinalityGuard Guard => _guard;

    public PipelineFigures Read()
    {
        // Hosted services are resolved late: they are created after this class in the container.
        _mqtt ??= _services.GetServices<IHostedService>().OfType<MqttIngestionService>().FirstOrDefault();
        _writer ??= _services.GetServices<IHostedService>().OfType<InfluxWriterService>().FirstOrDefault();
        var now = _time.GetUtcNow();
        var spool = _writer?.Spool;
        var watermark = _processor.Kpis.Watermark;
        var saved = _checkpoints.LastSaved;
        try
        {
            _openJobs = _processor.Jobs.OpenJobs;
        }
        catch (InvalidOperationException)
        {
            // The pipeline changed the job table while it was counted: keep the last count.
        }

        return new PipelineFigures(
            _journal.Queued,
            _channels.QueuedLines,
            spool?.Bytes ?? 0,
            spool?.MaxBytes ?? 0,
            spool?.Count ?? 0,
            spool is null ? 0 : OldestAgeSeconds(spool.Folder, now),
            watermark is { } w ? (now - w).TotalSeconds : null,
            watermark,
            _processor.Kpis.LatestEvent,
            saved is { } s ? (now - s).TotalSeconds : null,
            _mqtt?.IsConnected ?? false,
            _openJobs,
            _processor.Kpis.OpenSeries);
    }

    /// <summary>Values folded into <c>other</c>, one measurement per kind.</summary>
    public IEnumerable<Measurement<long>> Folded() => _guard.Caps.Select(c => new Measurement<long>(c.Folded, new KeyValuePair<string, object?>("kind", c.Kind)));

    /// <summary>Spool files are named by the UTC ticks of their creation, so the smallest name is the oldest batch.</summary>
    private static double OldestAgeSeconds(string folder, DateTimeOffset now)
    {
        try
        {
            string? oldest = null;
            foreach (var path in Directory.EnumerateFiles(folder, "*.lp"))
            {
                var name = Path.GetFileName(path);
                if (oldest is null || string.CompareOrdinal(name, oldest) < 0)
                {
                    oldest = name;
                }
            }

            if (oldest is null || oldest.Length < 19 || !long.TryParse(oldest.AsSpan(0, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
            {
                return 0;
            }

            return Math.Max(0, (now - new DateTimeOffset(ticks, TimeSpan.Zero)).TotalSeconds);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }
}
