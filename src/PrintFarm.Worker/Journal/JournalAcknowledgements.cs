using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Journal;

/// <summary>
/// Sends what committed groups owe the broker, in commit order: the committer posts each message's acknowledgement once
/// its record is durable, and <see cref="RunAsync"/> sends them, consecutive ones on one connection together (one
/// write of PUBACKs). A failed send is counted and logged: the broker sends the message again and the job tracker's
/// de-duplication keeps it from counting twice.
/// </summary>
internal sealed class JournalAcknowledgements
{
    private readonly Channel<JournalAck> _acks = Channel.CreateUnbounded<JournalAck>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;

    public JournalAcknowledgements(TimeProvider time, PrintFarmInstrumentation metrics, ILogger logger)
    {
        _metrics = metrics;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
    }

    /// <summary>Owed now: its message is on disk. The committer's call.</summary>
    public void Post(JournalAck ack) => _acks.Writer.TryWrite(ack);

    /// <summary>Nothing more will be posted: <see cref="RunAsync"/> ends once it has sent the rest.</summary>
    public void Complete() => _acks.Writer.TryComplete();

    /// <summary>Sends acknowledgements until <see cref="Complete"/> was called and all are sent.</summary>
    public async Task RunAsync()
    {
        var reader = _acks.Reader;
        var ids = new List<ushort>();
        IJournalAcknowledger? connection = null;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var ack))
            {
                if (ack.Connection is not null && (connection is null || ReferenceEquals(connection, ack.Connection)))
                {
                    connection = ack.Connection;
                    ids.Add(ack.PacketId);
                    continue;
                }

                await SendAsync(connection, ids).ConfigureAwait(false);
                connection = ack.Connection;
                if (ack.Connection is not null)
                {
                    ids.Add(ack.PacketId);
                }
                else
                {
                    await SendAsync(() => ack.Callback!(CancellationToken.None)).ConfigureAwait(false);
                }
            }

            await SendAsync(connection, ids).ConfigureAwait(false);
            connection = null;
        }
    }

    private async Task SendAsync(IJournalAcknowledger? connection, List<ushort> ids)
    {
        if (connection is not null && ids.Count > 0)
        {
            await SendAsync(() => connection.AcknowledgeAsync(ids, CancellationToken.None)).ConfigureAwait(false);
        }

        ids.Clear();
    }

    private async Task SendAsync(Func<Task> send)
    {
        try
        {
            await send().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The connection dropped before the acknowledgement went out: the broker sends the message again and the
            // job tracker's de-duplication keeps it from counting twice.
            _metrics.JournalAckFailures.Add(1);
            if (_throttle.ShouldLog("ack", out var suppressed))
            {
                Log.JournalAckFailed(_logger, ex.Message, suppressed);
            }
        }
    }
}
