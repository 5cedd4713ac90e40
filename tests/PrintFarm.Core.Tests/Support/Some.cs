using PrintFarm.Core.Events;

namespace PrintFarm.Core.Tests.Support;

/// <summary>Builders with sensible defaults, so a test only spells out what it is about.</summary>
internal static class Some
{
    /// <summary>A fixed, UTC-midnight-aligned instant every test time is derived from.</summary>
    public static readonly DateTimeOffset Day = new(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);

    public const string Printer = "p1";

    public const string Source = "native";

    /// <summary>Moves the engine's watermark with an event time, as an event from no particular printer would.</summary>
    public static void ObserveEventTime(this Core.Kpis.KpiEngine engine, DateTimeOffset time) => engine.Observe(Source, null, time, time);

    /// <summary><see cref="Day"/> plus hours and minutes.</summary>
    public static DateTimeOffset At(int hours, int minutes = 0, int seconds = 0) =>
        Day.AddHours(hours).AddMinutes(minutes).AddSeconds(seconds);

    public static PrinterEvent Started(
        DateTimeOffset ts,
        string? jobId = null,
        string? file = null,
        string printer = Printer,
        string? toy = null,
        int? quantity = null,
        string? material = null,
        double? estimatedTime = null,
        double? progress = null) => new()
        {
            Kind = EventKind.JobStarted,
            Printer = printer,
            Source = Source,
            Timestamp = ts,
            JobId = jobId,
            File = file,
            Toy = toy,
            Quantity = quantity,
            Material = material,
            EstimatedTimeSeconds = estimatedTime,
            ProgressPercent = progress,
        };

    public static PrinterEvent Finished(
        DateTimeOffset ts,
        JobOutcome outcome = JobOutcome.Completed,
        string? jobId = null,
        string? file = null,
        string printer = Printer,
        string? toy = null,
        int? quantity = null,
        string? material = null,
        double? printTime = null,
        double? grams = null,
        double? millimetres = null,
        double? estimatedTime = null) => new()
        {
            Kind = EventKind.JobFinished,
            Printer = printer,
            Source = Source,
            Timestamp = ts,
            JobId = jobId,
            File = file,
            Toy = toy,
            Quantity = quantity,
            Material = material,
            Outcome = outcome,
            PrintTimeSeconds = printTime,
            FilamentGrams = grams,
            FilamentMillimetres = millimetres,
            FilamentSource = grams is not null || millimetres is not null ? FilamentSource.Measured : FilamentSource.Unknown,
            EstimatedTimeSeconds = estimatedTime,
        };

    public static PrinterEvent Progress(DateTimeOffset ts, double? progress, string printer = Printer, EventKind kind = EventKind.JobProgress) => new()
    {
        Kind = kind,
        Printer = printer,
        Source = Source,
        Timestamp = ts,
        ProgressPercent = progress,
    };

    public static EndedJob Job(
        DateTimeOffset end,
        JobOutcome outcome = JobOutcome.Completed,
        double printTime = 3600,
        int quantity = 1,
        double? grams = 10,
        string printer = Printer,
        string toy = "dragon",
        string material = "PLA",
        string jobId = "job-1",
        string file = "dragon.gcode",
        double? millimetres = null,
        double? estimatedTime = null,
        FilamentSource? filamentSource = null) => new()
        {
            Printer = printer,
            Source = Source,
            JobId = jobId,
            File = file,
            Toy = toy,
            Quantity = quantity,
            Material = material,
            Outcome = outcome,
            Start = end.AddSeconds(-printTime),
            End = end,
            PrintTimeSeconds = printTime,
            FilamentGrams = grams ?? 0,
            FilamentMillimetres = millimetres,
            FilamentSource = filamentSource ?? (grams is null ? FilamentSource.Unknown : FilamentSource.Measured),
            EstimatedTimeSeconds = estimatedTime,
        };
}
