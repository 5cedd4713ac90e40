using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// What the last write to InfluxDB came to, for <c>/readyz</c>. A refusal (a 4xx that is not bad data, a v2 write to a
/// server without the v2 API, a 413 on one line) means nothing lands until the configuration changes: not ready, with
/// the status, the server's words and the setting to check. Transient failures (network, 429, 5xx) are left to the
/// spool check of <c>pipeline</c>: the spool keeps the data and the worker is ready while it has room.
/// </summary>
internal sealed class InfluxWriteHealth(TimeProvider time)
{
    private readonly object _gate = new();
    private WriteResult? _refusal;
    private DateTimeOffset _since;
    private DateTimeOffset? _lastWritten;

    /// <summary>The refusal writes are failing with, and since when; null while writes go through (or fail transiently).</summary>
    public (WriteResult Result, DateTimeOffset Since)? Refusal
    {
        get
        {
            lock (_gate)
            {
                return _refusal is { } r ? (r, _since) : null;
            }
        }
    }

    /// <summary>When a batch was last written.</summary>
    public DateTimeOffset? LastWritten
    {
        get
        {
            lock (_gate)
            {
                return _lastWritten;
            }
        }
    }

    public void Written()
    {
        lock (_gate)
        {
            _refusal = null;
            _lastWritten = time.GetUtcNow();
        }
    }

    public void Failed(WriteResult result)
    {
        lock (_gate)
        {
            if (result.Status != WriteStatus.Refused)
            {
                // A transient failure says nothing new about the configuration; a refusal stays until a write lands.
                return;
            }

            if (_refusal is null)
            {
                _since = time.GetUtcNow();
            }

            _refusal = result;
        }
    }
}

/// <summary>Readiness of the InfluxDB writer: unhealthy while the database refuses the writes (see <see cref="InfluxWriteHealth"/>).</summary>
internal sealed class InfluxHealthCheck(InfluxWriteHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["lastWritten"] = (object?)health.LastWritten?.ToString("O", CultureInfo.InvariantCulture) ?? "none yet",
        };
        if (health.Refusal is { } refusal)
        {
            var r = refusal.Result;
            data["status"] = r.StatusText;
            data["refusedSince"] = refusal.Since.ToString("O", CultureInfo.InvariantCulture);
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"InfluxDB refuses the writes since {refusal.Since:O}: {r.StatusText} {r.Error}; {r.Hint}. Nothing lands; the batches are kept in the spool",
                data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy("writes accepted or retried", data));
    }
}
