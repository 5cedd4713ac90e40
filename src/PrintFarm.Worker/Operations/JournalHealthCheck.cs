using Microsoft.Extensions.Diagnostics.HealthChecks;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// Readiness of the journal (issue 18, items 1 and 5): unhealthy while group commits fail (a full or broken disk:
/// nothing new is acknowledged) or the journal is at <c>Journal:MaxBytes</c>; degraded while a damaged range sits in
/// the quarantine folder unacknowledged. Either way <c>/readyz</c> answers 503 with the reason.
/// </summary>
internal sealed class JournalHealthCheck(MessageJournal journal) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["bytes"] = journal.Bytes,
            ["damagedBytes"] = journal.Quarantine.DamagedBytes,
        };
        var problems = new List<string>();
        if (journal.CommitFailure is { } failure)
        {
            data["commitFailingSince"] = failure.Since.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            problems.Add($"journal commits in {journal.Folder} failing since {failure.Since:O} ({failure.Reason}); {failure.Messages} messages wait, not acknowledged");
        }

        if (journal.IsFull)
        {
            problems.Add($"the journal holds {journal.Bytes} bytes, at its limit (PrintFarm:Journal:MaxBytes): the pipeline is behind");
        }

        if (problems.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(string.Join("; ", problems), data: data));
        }

        var damaged = journal.Quarantine.Unacknowledged();
        if (damaged.Count > 0)
        {
            data["quarantined"] = damaged;
            return Task.FromResult(HealthCheckResult.Degraded(
                $"journal damage kept in {journal.Quarantine.Folder}: {string.Join(", ", damaged)}; the messages in it were lost. Acknowledge by renaming each file to *{JournalQuarantine.AcknowledgedExtension} (docs/reliability.md, \"Journal damage\")",
                data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy("journal committing", data));
    }
}
