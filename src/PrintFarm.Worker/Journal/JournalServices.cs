using Microsoft.Extensions.Hosting;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// The journal's writer as a service of the host: supervised (a fault stops the host rather than leaving ingestion
/// silently stuck) and seen by the liveness check (<c>loops</c>). It runs until the journal is completed — by the MQTT
/// subscriber when it stops, or here when the host stops without one — and commits what was gathered before it ends.
/// Registered before every other service, so it starts first and stops last.
/// </summary>
internal sealed class JournalWriterService(MessageJournal journal) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Not cancelled by the host's stop: the journal is completed (and what is gathered committed), then it ends.
        using var stopping = stoppingToken.Register(static j => ((MessageJournal)j!).Close(), journal);
        await journal.RunWriterAsync().ConfigureAwait(false);
    }
}

/// <summary>The journal's acknowledgements (PUBACKs once a message is on disk) as a supervised service of the host.</summary>
internal sealed class JournalAcknowledgementService(MessageJournal journal) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => journal.RunAcknowledgementsAsync();
}
