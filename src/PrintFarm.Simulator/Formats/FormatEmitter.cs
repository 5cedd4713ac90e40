using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>
/// Turns a simulated printer's life into the MQTT messages its software publishes, and says what the worker should
/// make of each job in that format (<see cref="Report"/>): the ground truth is built from it.
/// </summary>
public abstract class FormatEmitter
{
    /// <summary>Creates an emitter for <paramref name="printer"/>.</summary>
    protected FormatEmitter(string printer, double cadenceFactor)
    {
        Printer = printer;
        CadenceFactor = cadenceFactor;
    }

    /// <summary>Printer id (the topic level).</summary>
    public string Printer { get; }

    /// <summary>The worker's <c>source</c> tag for this format.</summary>
    public abstract string Source { get; }

    /// <summary>The format.</summary>
    public abstract PrinterFormat Format { get; }

    /// <summary>Multiplies the telemetry cadences.</summary>
    protected double CadenceFactor { get; }

    /// <summary>What the printer publishes when it comes up.</summary>
    public abstract IEnumerable<SimMessage> Hello(DateTimeOffset time);

    /// <summary>Every message of one job, in time order.</summary>
    public abstract IEnumerable<SimMessage> Job(PlannedJob job);

    /// <summary>The printer drops off the broker (its last will), or <see langword="null"/> when the format has no presence.</summary>
    public abstract SimMessage? Offline(DateTimeOffset time);

    /// <summary>The printer is back.</summary>
    public abstract SimMessage? Online(DateTimeOffset time);

    /// <summary>A malformed message on one of the format's topics.</summary>
    public abstract SimMessage Malformed(DateTimeOffset time);

    /// <summary>The job as the worker should record it from this format's messages.</summary>
    public abstract EndedJob Report(PlannedJob job, MaterialCatalog materials);

    /// <summary>
    /// What the printer reports it is doing from <paramref name="job"/>'s start to its end, as this format's messages
    /// say it, in time order: the ground truth of printer time (<see cref="Truth.PrinterTimeTruth"/>) is built from it.
    /// </summary>
    public abstract IEnumerable<(DateTimeOffset At, PrinterActivity State)> States(PlannedJob job);

    /// <summary>
    /// The phases of a format that reports them as they happen: <paramref name="first"/> from the start, printing from
    /// <paramref name="printingFrom"/> (when it is reported apart), the pause, and the end.
    /// </summary>
    protected static IEnumerable<(DateTimeOffset At, PrinterActivity State)> Phases(PlannedJob job, PrinterActivity first, DateTimeOffset? printingFrom = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        yield return (job.Start, first);
        if (printingFrom is { } p && p < job.End)
        {
            yield return (p, PrinterActivity.Printing);
        }

        if (job.PausedFrom is { } paused)
        {
            yield return (paused, PrinterActivity.Paused);
            yield return (job.ResumedAt!.Value, PrinterActivity.Printing);
        }

        yield return (job.End, EndState(job.Outcome));
    }

    /// <summary>The state a job's end leaves the printer in: the plate awaits clearing, an error, or idle after a cancel.</summary>
    public static PrinterActivity EndState(JobOutcome outcome) => outcome switch
    {
        JobOutcome.Completed => PrinterActivity.AwaitingBedClear,
        JobOutcome.Failed => PrinterActivity.Error,
        _ => PrinterActivity.Idle,
    };

    /// <summary>Sample times from just after the start to before the end, every <paramref name="seconds"/> × the cadence factor.</summary>
    protected IEnumerable<DateTimeOffset> Samples(PlannedJob job, int seconds)
    {
        var step = Math.Max(1, (int)Math.Round(seconds * CadenceFactor));
        for (var t = job.Start.AddSeconds(step); t < job.End; t = t.AddSeconds(step))
        {
            yield return t;
        }
    }

    /// <summary>Fraction of the heat-up done at <paramref name="time"/>.</summary>
    protected static double HeatFraction(PlannedJob job, DateTimeOffset time) =>
        job.HeatUpSeconds <= 0 ? 1 : Math.Clamp((time - job.Start).TotalSeconds / job.HeatUpSeconds, 0, 1);

    /// <summary>The toy and quantity the worker reads from a file name.</summary>
    protected static ToyInfo FromFile(string file) => ToyNameRules.Default.Parse(file);

    /// <summary>The common part of every reported job.</summary>
    protected EndedJob Base(PlannedJob job, string jobId, double printTime, int quantity, double grams, double? millimetres, FilamentSource filament, double? estimate) => new()
    {
        Printer = Printer,
        Source = Source,
        JobId = jobId,
        File = job.File,
        Toy = FromFile(job.File).Toy,
        Quantity = quantity,
        Material = "PLA",
        Outcome = job.Outcome,
        Start = job.Start,
        End = job.End,
        PrintTimeSeconds = printTime,
        FilamentGrams = grams,
        FilamentMillimetres = millimetres,
        FilamentSource = filament,
        EstimatedTimeSeconds = estimate,
        Reason = job.Reason,
        ReasonSource = job.Reason is null ? null : PrintFarm.Core.Jobs.FailureReasons.FromPrinter,
    };

    /// <summary>Orders one job's messages by time, keeping the written order within a second.</summary>
    protected static IEnumerable<SimMessage> InOrder(List<SimMessage> messages) => messages.OrderBy(m => m.Time.UtcTicks);
}
