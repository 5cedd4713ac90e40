using System.Threading.Channels;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// Lines of one processing pass on their way to the InfluxDB writer, or a barrier: the writer completes a barrier once
/// every line queued before it is in InfluxDB or in the spool on disk, which is what a checkpoint waits for.
/// </summary>
internal sealed class LineBatch
{
    private LineBatch(List<string> lines, TaskCompletionSource? barrier)
    {
        Lines = lines;
        Barrier = barrier;
    }

    /// <summary>Line-protocol lines (empty for a barrier).</summary>
    public List<string> Lines { get; }

    /// <summary>Set for a barrier.</summary>
    public TaskCompletionSource? Barrier { get; }

    public static LineBatch Of(List<string> lines) => new(lines, null);

    public static LineBatch ForBarrier(TaskCompletionSource barrier) => new([], barrier);
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

    /// <summary>Queues lines when there is room now; false when the queue is full or closed. Takes ownership of the list.</summary>
    public bool TryPublish(List<string> lines)
    {
        if (!Lines.Writer.TryWrite(LineBatch.Of(lines)))
        {
            return false;
        }

        Interlocked.Add(ref _queuedLines, lines.Count);
        return true;
    }

    /// <summary>The writer took a batch off the queue.</summary>
    public void Taken(LineBatch batch) => Interlocked.Add(ref _queuedLines, -batch.Lines.Count);

    /// <summary>Queues lines for the writer (any producer: the pipeline, health points, alerts). Takes ownership of the list.</summary>
    public ValueTask PublishAsync(List<string> lines, CancellationToken cancellationToken = default)
    {
        if (lines.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        var batch = LineBatch.Of(lines);
        Interlocked.Add(ref _queuedLines, lines.Count);
        return Lines.Writer.TryWrite(batch) ? ValueTask.CompletedTask : Lines.Writer.WriteAsync(batch, cancellationToken);
    }
}
