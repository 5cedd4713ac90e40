using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Cluster;

/// <summary>
/// The KV bucket through which partitions hand their share of the farm-, toy- and material-wide alert windows to the
/// farm alert stage (<see cref="FarmAlertStage"/>): <c>{CheckpointBucket}_partials</c>, one key per partition, subject
/// and window holding the partition's latest raw sums of that window (a put replaces, so a replay never doubles),
/// one key per partition, <c>wm.p0007</c>, holding its watermark and the stream position it reflects, and the
/// stage's own judged windows (<see cref="JudgedKey"/>).
/// docs/scale-out.md, "Farm-wide alerts".
/// </summary>
internal static class FarmPartials
{
    /// <summary>The key of the stage's state in the partials bucket, and of its lease in the lease bucket.</summary>
    public const string StageKey = "alerts";

    private const string ReportPrefix = "wm.";

    private const string JudgedPrefix = "j.";

    /// <summary>The partials bucket's name, beside the checkpoint bucket it belongs to.</summary>
    public static string BucketName(JetStreamLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return layout.CheckpointBucket + "_partials";
    }

    /// <summary>
    /// The partials bucket, created when missing: R as the others; an entry lives the alert rules' recent and
    /// baseline ranges and a day more after its last put, so a new stage owner finds every window it still needs.
    /// </summary>
    public static async Task<INatsKVStore> OpenBucketAsync(INatsJSContext js, JetStreamLayout layout, int replicas, AlertRuleOptions rules, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rules);
        return await new NatsKVContext(js).CreateStoreAsync(
            new NatsKVConfig(BucketName(layout))
            {
                History = 1,
                NumberOfReplicas = replicas,
                Storage = NatsKVStorageType.File,
                MaxAge = rules.RecentRange + rules.BaselineRange + TimeSpan.FromDays(1),
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The key of a partition's report.</summary>
    public static string ReportKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"{ReportPrefix}p{partition:D4}");

    /// <summary>
    /// The key of a partition's partial of one window: <c>{scope}.{subject as hex, or _ for the farm}.{start ticks}.p{partition}</c>
    /// (KV keys allow few characters; the value carries the subject as it is).
    /// </summary>
    public static string PartialKey(KpiScope scope, string subject, long windowStart, int partition) =>
        string.Create(CultureInfo.InvariantCulture, $"{PointEncoder.ScopeName(scope)}.{(subject.Length == 0 ? "_" : Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(subject)))}.{windowStart}.p{partition:D4}");

    /// <summary>
    /// The key of a window the stage has judged, with the farm's final sums: <c>j.{scope}.{subject as hex}.{start ticks}</c>.
    /// Written once the window is closed for the whole farm (it never changes after), before the state that counts it
    /// as judged; a new owner rebuilds the rules' recent and baseline ranges from these.
    /// </summary>
    public static string JudgedKey(KpiScope scope, string subject, long windowStart) =>
        string.Create(CultureInfo.InvariantCulture, $"{JudgedPrefix}{PointEncoder.ScopeName(scope)}.{(subject.Length == 0 ? "_" : Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(subject)))}.{windowStart}");

    /// <summary>True when <paramref name="key"/> is a judged window's (<see cref="JudgedKey"/>).</summary>
    public static bool IsJudged(string key) => key.StartsWith(JudgedPrefix, StringComparison.Ordinal);

    /// <summary>True when <paramref name="key"/> is a partition's report.</summary>
    public static bool IsReport(string key) => key.StartsWith(ReportPrefix, StringComparison.Ordinal);

    /// <summary>A partial's value.</summary>
    public static byte[] EncodePartial(int partition, KpiScope scope, string subject, long windowStart, in KpiTotals totals)
    {
        var sums = new JsonArray();
        foreach (var s in FarmPartialsMerge.Sums(totals))
        {
            sums.Add(s);
        }

        return JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["partition"] = partition,
            ["scope"] = PointEncoder.ScopeName(scope),
            ["subject"] = subject,
            ["start"] = windowStart,
            ["sums"] = sums,
        });
    }

    /// <summary>A partial back from its value; null when unreadable.</summary>
    public static (int Partition, KpiScope Scope, string Subject, long Start, KpiTotals Totals)? DecodePartial(ReadOnlySpan<byte> value)
    {
        try
        {
            if (JsonNode.Parse(value) is not JsonObject o || !TryScope(o["scope"]?.GetValue<string>(), out var scope))
            {
                return null;
            }

            var sums = o["sums"]!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
            return (o["partition"]!.GetValue<int>(), scope, o["subject"]!.GetValue<string>(), o["start"]!.GetValue<long>(), FarmPartialsMerge.FromSums(sums));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }

    /// <summary>A report's value.</summary>
    public static byte[] EncodeReport(int partition, PartitionReport report) =>
        JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["partition"] = partition,
            ["watermark"] = report.Watermark,
            ["stream"] = report.StreamNext,
            ["mqtt"] = report.MqttNext,
        });

    /// <summary>A report back from its value; null when unreadable.</summary>
    public static (int Partition, PartitionReport Report)? DecodeReport(ReadOnlySpan<byte> value)
    {
        try
        {
            if (JsonNode.Parse(value) is not JsonObject o)
            {
                return null;
            }

            return (o["partition"]!.GetValue<int>(), new PartitionReport(o["watermark"]?.GetValue<long>(), o["stream"]!.GetValue<ulong>(), o["mqtt"]!.GetValue<ulong>()));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }

    private static bool TryScope(string? name, out KpiScope scope)
    {
        foreach (var s in new[] { KpiScope.Farm, KpiScope.Toy, KpiScope.Material, KpiScope.Printer })
        {
            if (PointEncoder.ScopeName(s) == name)
            {
                scope = s;
                return true;
            }
        }

        scope = default;
        return false;
    }
}

/// <summary>
/// One partition's side of the farm-wide alerts: at each flush and checkpoint of its pipeline (inside its gate, after
/// the lease check, so a partition it no longer owns puts nothing), it puts the alert window's farm, toy and material
/// partials that changed, and then its report. The report goes only once every partial before it is in: the stage
/// never sees a watermark whose windows' sums are not there yet. A failed put is kept and tried at the next flush.
/// </summary>
internal sealed class PartialsPublisher
{
    private readonly INatsKVStore _bucket;
    private readonly int _partition;
    private readonly AlertEvaluator _rules;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;
    private readonly Dictionary<string, byte[]> _pending = new(StringComparer.Ordinal);
    private PartitionReport? _reported;

    public PartialsPublisher(INatsKVStore bucket, int partition, AlertEvaluator rules, TimeProvider time, ILogger logger)
    {
        _bucket = bucket;
        _partition = partition;
        _rules = rules;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
    }

    /// <summary>Puts what changed and the report; the pipeline calls it inside its gate.</summary>
    public async ValueTask PublishAsync(IReadOnlyList<KpiPoint> points, DateTimeOffset? watermark, StreamPosition position, CancellationToken cancellationToken)
    {
        var window = _rules.Window.Name;
        foreach (var p in points)
        {
            // As the evaluator reads them: windows without an ended job weigh nothing in any rule.
            if (p.Scope != KpiScope.Printer && p.Window.Name == window && p.Totals.JobsEnded > 0 && _rules.Judges(p.Scope))
            {
                var start = p.WindowStart.UtcTicks;
                _pending[FarmPartials.PartialKey(p.Scope, p.Subject, start, _partition)] = FarmPartials.EncodePartial(_partition, p.Scope, p.Subject, start, p.Totals);
            }
        }

        var report = new PartitionReport(watermark?.UtcTicks, position.Stream, position.Mqtt);
        try
        {
            if (_reported is null)
            {
                // A new owner's first puts may be a replay's smaller sums of windows the former owner's report had
                // closed, or the former owner's sums may be older than this state. A report without a watermark from
                // the streams' start goes first: the partition is not clear (unless it never had a message), so the
                // stage closes nothing until the report after these sums.
                var hold = new PartitionReport(null, 1, 1);
                await _bucket.PutAsync(FarmPartials.ReportKey(_partition), FarmPartials.EncodeReport(_partition, hold), cancellationToken: cancellationToken).ConfigureAwait(false);
                _reported = hold;
            }

            foreach (var (key, value) in _pending.ToList())
            {
                await _bucket.PutAsync(key, value, cancellationToken: cancellationToken).ConfigureAwait(false);
                _pending.Remove(key);
            }

            if (_reported != report)
            {
                await _bucket.PutAsync(FarmPartials.ReportKey(_partition), FarmPartials.EncodeReport(_partition, report), cancellationToken: cancellationToken).ConfigureAwait(false);
                _reported = report;
            }
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            if (_throttle.ShouldLog("partials", out var suppressed))
            {
                Log.PartialsPutFailed(_logger, _partition, _bucket.Bucket, ex.Message, _pending.Count, suppressed);
            }
        }
    }
}
