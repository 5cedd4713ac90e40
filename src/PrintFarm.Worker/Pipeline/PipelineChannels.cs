using System.Threading.Channels;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Influx;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// Lines of one processing pass on their way to the InfluxDB writer, or a barrier: the writer completes a barrier once
/// every line queued before it is in InfluxDB or in the spool on disk, which is what a checkpoint waits for.
/// The lines are encoded (UTF-8, as they will be sent) when they are queued: a full queue then holds a few pooled
/// arrays rather than thousands of strings (see <see cref="LineBuffer"/>). The writer disposes the buffer.
/// </summary>
internal sealed class LineBatch
{
    private LineBatch(LineBuffer? lines, TaskCompletionSource? barrier)
    {
        Lines = lines;
        Barrier = barrier;
    }

    /// <summary>The encoded lines (null for a barrier).</summary>
    public LineBuffer? Lines { get; }

    /// <summary>Lines in the batch.</summary>
    public int Count => Lines?.Count ?? 0;

    /// <summary>Set for a barrier.</summary>
    public TaskCompletionSource? Barrier { get; }

    public static LineBatch Of(IReadOnlyList<string> lines, int start, int count) => new(LineBuffer.Of(lines, start, count), null);

    public static LineBatch ForBarrier(TaskCompletionSource barrier) => new(null, barrier);
}

/// <summary>
/// The bounded queue from the pipeline to the InfluxDB writer. It waits when full, so a slow database slows the
/// pipeline, which then reads the journal more slowly: the backlog stays on disk, not in memory.
/// </summary>
internal sealed class PipelineChannels
{
    /// <summary>Lines per batch the pipeline hands over at most; the queue's capacity is counted in these.</summary>
    public const int LinesPerBatch = 1024;

    private long _queuedLines;

    public PipelineChannels(IOptions<PrintFarmOptions> options)
    {
        var o = options.Value;
        Lines = Channel.CreateBounded<LineBatch>(new BoundedChannelOptions(Math.Max(2, o.Influx.QueueCapacity / LinesPerBatch))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>Batches of line-protocol lines waiting to be written, and checkpoint barriers.</summary>
    public Channel<LineBatch> Lines { get; }

    /// <summary>Lines in the queue now (for gauges).</summary>
    public long QueuedLines => Interlocked.Read(ref _queuedLines);

    /// <summary>Queues lines when there is room now; false when the queue is full or closed.</summary>
    public bool TryPublish(IReadOnlyList<string> lines)
    {
        var batch = LineBatch.Of(lines, 0, lines.Count);
        if (!Lines.Writer.TryWrite(batch))
        {
            batch.Lines!.Dispose();
            return false;
        }

        Interlocked.Add(ref _queuedLines, batch.Count);
        return true;
    }

    /// <summary>The writer took a batch off the queue.</summary>
    public void Taken(LineBatch batch) => Interlocked.Add(ref _queuedLines, -batch.Count);

    /// <summary>Queues lines for the writer (any producer: the pipeline, health points, alerts), in batches of at most <see cref="LinesPerBatch"/>.</summary>
    public async ValueTask PublishAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < lines.Count; i += LinesPerBatch)
        {
            var batch = LineBatch.Of(lines, i, Math.Min(LinesPerBatch, lines.Count - i));
            Interlocked.Add(ref _queuedLines, batch.Count);
            if (Lines.Writer.TryWrite(batch))
            {
                continue;
            }

            try
            {
                await Lines.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Interlocked.Add(ref _queuedLines, -batch.Count);
                batch.Lines!.Dispose();
                throw;
            }
        }
    }
}
