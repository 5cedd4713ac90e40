using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Operations;

/// <summary>Tags that pick the checks of each endpoint.</summary>
internal static class HealthTags
{
    /// <summary><c>/healthz</c>: the process should be restarted when this fails.</summary>
    public const string Live = "live";

    /// <summary><c>/readyz</c>: the worker is doing its job.</summary>
    public const string Ready = "ready";
}

/// <summary>Liveness: every background loop of the worker is still running.</summary>
internal sealed class LoopsHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var loops = ((IEnumerable<IHostedService>)services.GetService(typeof(IEnumerable<IHostedService>))!).OfType<BackgroundService>().ToArray();
        var data = loops.ToDictionary(l => l.GetType().Name, l => (object)State(l.ExecuteTask));
        var stopped = data.Where(kv => (string)kv.Value != "running").Select(kv => kv.Key).ToArray();
        return Task.FromResult(stopped.Length == 0
            ? HealthCheckResult.Healthy($"{loops.Length} loops running", data)
            : HealthCheckResult.Unhealthy("stopped: " + string.Join(", ", stopped), data: data));
    }

    private static string State(Task? task) => task switch
    {
        null => "not started",
        { IsFaulted: true } => "failed",
        { IsCompleted: true } => "stopped",
        _ => "running",
    };
}

/// <summary>Readiness: broker connected, database reachable or spool below its cap, recent checkpoint, watermark moving.</summary>
internal sealed class PipelineReadinessCheck(PipelineGauges gauges, IngestHealthService ingest, IOptions<PrintFarmOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var f = gauges.Read();
        var problems = new List<string>();
        var clustered = o.Cluster.Enabled;
        if (!f.MqttConnected && !clustered)
        {
            problems.Add($"not connected to the MQTT broker {o.Mqtt.Host}:{o.Mqtt.Port}");
        }

        // The spool is only used while the database refuses or cannot be reached: ready while it has room.
        if (f.SpoolMaxBytes > 0 && f.SpoolBytes >= f.SpoolMaxBytes * 9 / 10)
        {
            problems.Add($"InfluxDB unreachable and the spool is at {f.SpoolBytes} of {f.SpoolMaxBytes} bytes (PrintFarm:Influx:SpoolMaxBytes)");
        }

        // In the clustered mode each partition has its own checkpoints and watermark: ClusterReadinessCheck.
        var checkpointLimit = o.Health.MaxCheckpointAge + o.CheckpointInterval;
        if (!clustered && f.CheckpointAgeSeconds is { } age && age > checkpointLimit.TotalSeconds)
        {
            problems.Add($"last checkpoint {age:F0} s ago (limit {checkpointLimit.TotalSeconds:F0} s)");
        }

        var stalled = ingest.WatermarkStalledFor;
        if (!clustered && stalled > o.Health.MaxWatermarkStall)
        {
            problems.Add($"watermark has not moved for {stalled.TotalSeconds:F0} s although messages arrive (PrintFarm:Health:MaxWatermarkStall)");
        }

        var data = new Dictionary<string, object>
        {
            ["mqttConnected"] = f.MqttConnected,
            ["spoolBytes"] = f.SpoolBytes,
            ["spoolBatches"] = f.SpoolBatches,
            ["spoolOldestAgeSeconds"] = f.SpoolOldestAgeSeconds,
            ["spooling"] = f.SpoolBatches > 0, // batches wait on disk only while InfluxDB refuses or cannot be reached
            ["checkpointAgeSeconds"] = (object?)f.CheckpointAgeSeconds ?? "none yet",
            ["watermark"] = (object?)f.Watermark?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "none yet",
            ["watermarkLagSeconds"] = (object?)f.WatermarkLagSeconds ?? "none yet",
            ["inboundDepth"] = f.InboundDepth,
            ["linesDepth"] = f.LinesDepth,
            ["openJobs"] = f.OpenJobs,
            ["openWindows"] = f.OpenWindows,
        };
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy("ingesting", data)
            : HealthCheckResult.Unhealthy(string.Join("; ", problems), data: data));
    }
}

/// <summary>
/// Readiness in the clustered mode: connected to NATS, both streams answering with a leader, leases renewed, every
/// owned partition checkpointing (<see cref="Cluster.ClusterPipelineService.ProbeAsync"/>).
/// </summary>
internal sealed class ClusterReadinessCheck(IServiceProvider services, IOptions<PrintFarmOptions> options) : IHealthCheck
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var cluster = ((IEnumerable<IHostedService>)services.GetService(typeof(IEnumerable<IHostedService>))!).OfType<Cluster.ClusterPipelineService>().Single();
        var (problems, data) = await cluster.ProbeAsync(o.Health.MaxCheckpointAge + o.CheckpointInterval, ProbeTimeout, cancellationToken).ConfigureAwait(false);
        return problems.Count == 0
            ? HealthCheckResult.Healthy($"reading {data["partitionsOwned"]} of {data["partitions"]} partitions", data)
            : HealthCheckResult.Unhealthy(string.Join("; ", problems), data: data);
    }
}
