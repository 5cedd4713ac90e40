using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Jobs;

public sealed class JobTrackerTests
{
    private readonly MaterialCatalog _materials = MaterialCatalog.Default;
    private readonly ToyNameRules _toys = ToyNameRules.Default;
    private readonly JobTracker _tracker = new(ToyNameRules.Default, MaterialCatalog.Default);
    private readonly List<EndedJob> _ended = [];

    private void Apply(params PrinterEvent[] events)
    {
        foreach (var e in events)
        {
            _tracker.Apply(e, _ended);
        }
    }

    // ---- Start → finish ---------------------------------------------------------------------------------------

    [Fact]
    public void Apply_TwoJobsEndingInTheSameMillisecond_GetDistinctEndTimesSoTheirPointsStayTwo()
    {
        var end = Some.At(9);

        Apply(
            Some.Started(end.AddMinutes(-30), jobId: "A", file: "clip_x4.gcode"),
            Some.Finished(end, JobOutcome.Completed, jobId: "A"),
            Some.Started(end, jobId: "B", file: "clip_x4.gcode"),
            Some.Finished(end.AddTicks(10), JobOutcome.Completed, jobId: "B"));

        Assert.Equal([end, end.AddMilliseconds(1)], _ended.Select(j => j.End));

        var restored = new JobTracker(ToyNameRules.Default, MaterialCatalog.Default);
        restored.RestoreState(System.Text.Json.JsonSerializer.Deserialize<JobTrackerState>(System.Text.Json.JsonSerializer.Serialize(_tracker.SaveState()))!);
        var after = new List<EndedJob>();
        restored.Apply(Some.Finished(end, JobOutcome.Completed, jobId: "C"), after);
        Assert.Equal(end.AddMilliseconds(2), Assert.Single(after).End);
    }

    [Fact]
    public void Apply_StartThenFinish_ProducesOneEndedJobResolvedFromFileAndPayload()
    {
        const string file = "/sd/dragon_x4.gcode";
        var start = Some.At(8);
        var end = Some.At(9, 30);

        Apply(
            Some.Started(start, jobId: "A", file: file, estimatedTime: 5500),
            Some.Finished(end, JobOutcome.Completed, jobId: "A", printTime: 5400, grams: 120));

        var job = Assert.Single(_ended);
        var fromName = _toys.Parse(file);
        Assert.Equal(Some.Printer, job.Printer);
        Assert.Equal(Some.Source, job.Source);
        Assert.Equal("A", job.JobId);
        Assert.Equal(file, job.File);
        Assert.Equal(fromName.Toy, job.Toy);
        Assert.Equal(fromName.Quantity, job.Quantity);
        Assert.Equal(_materials.DefaultMaterial, job.Material);
        Assert.Equal(JobOutcome.Completed, job.Outcome);
        Assert.Equal(start, job.Start);
        Assert.Equal(end, job.End);
        Assert.Equal(5400, job.PrintTimeSeconds);
        Assert.Equal(120, job.FilamentGrams);
        Assert.Equal(FilamentSource.Measured, job.FilamentSource);
        Assert.Equal(5500, job.EstimatedTimeSeconds);
        Assert.Equal(fromName.Quantity, job.ToysCompleted);
        Assert.Equal(0, _tracker.OpenJobs);
        Assert.Null(_tracker.GetOpenJob(Some.Printer));
        Assert.Equal(0, _tracker.Duplicates);
    }

    [Fact]
    public void Apply_Start_OpensAJob()
    {
        Apply(Some.Started(Some.At(8), jobId: "A", file: "castle.gcode", toy: "castle", quantity: 2, material: "abs", estimatedTime: 60, progress: 0));

        var open = _tracker.GetOpenJob(Some.Printer);
        Assert.NotNull(open);
        Assert.Equal("A", open.Key);
        Assert.Equal("A", open.JobId);
        Assert.Equal(Some.Source, open.Source);
        Assert.Equal(Some.At(8), open.Start);
        Assert.Equal("castle.gcode", open.File);
        Assert.Equal("castle", open.Toy);
        Assert.Equal(2, open.Quantity);
        Assert.Equal("abs", open.Material);
        Assert.Equal(60, open.EstimatedTimeSeconds);
        Assert.Equal(0, open.LastProgressPercent);
        Assert.Equal(1, _tracker.OpenJobs);
        Assert.Empty(_ended);
    }

    [Fact]
    public void Apply_FinishWithToyAndQuantity_OverridesTheFileName()
    {
        Apply(
            Some.Started(Some.At(8), file: "dragon_x4.gcode", toy: "drake", quantity: 3),
            Some.Finished(Some.At(9), toy: "wyvern", quantity: 2, grams: 1));

        var job = Assert.Single(_ended);
        Assert.Equal("wyvern", job.Toy);
        Assert.Equal(2, job.Quantity);
    }

    [Fact]
    public void Apply_StartWithToyAndQuantity_IsUsedWhenTheFinishHasNone()
    {
        Apply(
            Some.Started(Some.At(8), file: "dragon_x4.gcode", toy: "drake", quantity: 3),
            Some.Finished(Some.At(9), grams: 1));

        var job = Assert.Single(_ended);
        Assert.Equal("drake", job.Toy);
        Assert.Equal(3, job.Quantity);
    }

    [Fact]
    public void Apply_FileOnlyOnTheFinish_IsUsed()
    {
        Apply(Some.Started(Some.At(8), file: "old_x2.gcode"), Some.Finished(Some.At(9), file: "castle_x3.gco", grams: 1));

        var job = Assert.Single(_ended);
        Assert.Equal("castle_x3.gco", job.File);
        Assert.Equal(_toys.Parse("castle_x3.gco"), new ToyInfo(job.Toy, job.Quantity));
    }

    [Fact]
    public void Apply_NoFileAnywhere_GivesAnEmptyFileAndTheUnknownToy()
    {
        Apply(Some.Started(Some.At(8)), Some.Finished(Some.At(9), grams: 1));

        var job = Assert.Single(_ended);
        Assert.Equal(string.Empty, job.File);
        Assert.Equal(_toys.Parse(null), new ToyInfo(job.Toy, job.Quantity));
    }

    [Fact]
    public void Apply_MaterialOnTheStart_IsResolvedUpperCase()
    {
        Apply(Some.Started(Some.At(8), material: " petg "), Some.Finished(Some.At(9), grams: 1));

        Assert.Equal(_materials.Resolve(" petg "), Assert.Single(_ended).Material);
        Assert.Equal("PETG", Assert.Single(_ended).Material);
    }

    [Fact]
    public void Apply_MaterialOnTheFinish_WinsOverTheStart()
    {
        Apply(Some.Started(Some.At(8), material: "PETG"), Some.Finished(Some.At(9), material: "abs", grams: 1));

        Assert.Equal("ABS", Assert.Single(_ended).Material);
    }

    [Fact]
    public void Apply_FilamentInMillimetres_IsConvertedWithTheJobsMaterial()
    {
        Apply(Some.Started(Some.At(8), material: "petg"), Some.Finished(Some.At(9), JobOutcome.Failed, millimetres: 3000));

        var job = Assert.Single(_ended);
        Assert.Equal(_materials.GramsFromMillimetres(3000, "PETG"), job.FilamentGrams);
        // 3000 mm × π·0.875² mm² ÷ 1000 × 1.27 g/cm³ (PETG).
        Assert.Equal(3000 * Math.PI * 0.875 * 0.875 / 1000 * 1.27, job.FilamentGrams, 1e-9);
        Assert.Equal(3000, job.FilamentMillimetres);
        Assert.Equal(FilamentSource.Measured, job.FilamentSource);
    }

    [Fact]
    public void Apply_FilamentInGramsAndMillimetres_PrefersTheGrams()
    {
        Apply(Some.Started(Some.At(8)), Some.Finished(Some.At(9), grams: 42.5, millimetres: 3000));

        var job = Assert.Single(_ended);
        Assert.Equal(42.5, job.FilamentGrams);
        Assert.Equal(3000, job.FilamentMillimetres);
    }

    [Fact]
    public void Apply_FilamentSourceOfTheFinish_IsKept()
    {
        var finish = Some.Finished(Some.At(9), grams: 12);
        Apply(Some.Started(Some.At(8)), new PrinterEvent
        {
            Kind = finish.Kind,
            Printer = finish.Printer,
            Source = finish.Source,
            Timestamp = finish.Timestamp,
            Outcome = finish.Outcome,
            FilamentGrams = 12,
            FilamentSource = FilamentSource.Estimated,
        });

        Assert.Equal(FilamentSource.Estimated, Assert.Single(_ended).FilamentSource);
    }

    [Fact]
    public void Apply_UnknownFilament_IsUnknownWithZeroGrams()
    {
        Apply(Some.Started(Some.At(8)), Some.Finished(Some.At(9)));

        var job = Assert.Single(_ended);
        Assert.Equal(FilamentSource.Unknown, job.FilamentSource);
        Assert.Equal(0, job.FilamentGrams);
        Assert.Null(job.FilamentMillimetres);
        Assert.False(job.HasFilament);
    }

    [Fact]
    public void Apply_FinishWithoutPrintTime_UsesEndMinusStart()
    {
        var start = Some.At(8, 15);
        var end = Some.At(9, 45, 30);

        Apply(Some.Started(start), Some.Finished(end));

        Assert.Equal((end - start).TotalSeconds, Assert.Single(_ended).PrintTimeSeconds);
    }

    [Fact]
    public void Apply_FinishWithPrintTime_UsesThePayloadsPrintTime()
    {
        // The printer's own figure (pauses excluded) wins over wall-clock end − start.
        Apply(Some.Started(Some.At(8)), Some.Finished(Some.At(10), printTime: 3000));

        Assert.Equal(3000, Assert.Single(_ended).PrintTimeSeconds);
    }

    [Fact]
    public void Apply_FinishStampedBeforeItsStart_HasZeroPrintTimeNotNegative()
    {
        Apply(Some.Started(Some.At(9), jobId: "A"), Some.Finished(Some.At(8, 59), jobId: "A"));

        Assert.Equal(0, Assert.Single(_ended).PrintTimeSeconds);
    }

    [Fact]
    public void Apply_EstimatedTimeOnlyOnTheFinish_IsUsed()
    {
        Apply(Some.Started(Some.At(8), estimatedTime: 100), Some.Finished(Some.At(9), estimatedTime: 200));

        Assert.Equal(200, Assert.Single(_ended).EstimatedTimeSeconds);
    }

    [Fact]
    public void Apply_FinishWithoutJobIdWhileOpenJobHasOne_ClosesTheOpenJob()
    {
        Apply(Some.Started(Some.At(8), jobId: "A"), Some.Finished(Some.At(9)));

        var job = Assert.Single(_ended);
        Assert.Equal("A", job.JobId);
        Assert.Equal(Some.At(8), job.Start);
        Assert.Equal(0, _tracker.OpenJobs);
    }

    [Fact]
    public void Apply_PrintersAreIndependent()
    {
        Apply(
            Some.Started(Some.At(8), printer: "p1"),
            Some.Started(Some.At(8, 10), printer: "p2"),
            Some.Finished(Some.At(9), printer: "p2"));

        var job = Assert.Single(_ended);
        Assert.Equal("p2", job.Printer);
        Assert.Equal(Some.At(8, 10), job.Start);
        Assert.NotNull(_tracker.GetOpenJob("p1"));
        Assert.Null(_tracker.GetOpenJob("p2"));
        Assert.Equal(1, _tracker.OpenJobs);
    }

    // ---- Duplicates (QoS 1 redelivery, retained replays) ------------------------------------------------------

    [Fact]
    public void Apply_DuplicateFinishWithJobId_IsCountedOnce()
    {
        var finish = Some.Finished(Some.At(9), jobId: "A", grams: 5);

        Apply(Some.Started(Some.At(8), jobId: "A"), finish, finish);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
    }

    [Fact]
    public void Apply_DuplicateFinishWithoutJobId_IsCountedOnce()
    {
        var finish = Some.Finished(Some.At(9), file: "dragon_x4.gcode", grams: 5);

        Apply(Some.Started(Some.At(8), file: "dragon_x4.gcode"), finish, finish);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
    }

    [Fact]
    public void Apply_DuplicateFinishWithoutJobIdAfterANewStart_DoesNotCloseTheNewJob()
    {
        var finishA = Some.Finished(Some.At(9), file: "dragon_x4.gcode", grams: 5);

        Apply(
            Some.Started(Some.At(8), file: "dragon_x4.gcode"),
            finishA,
            Some.Started(Some.At(9, 10), file: "castle.gcode"),
            finishA);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
        var open = _tracker.GetOpenJob(Some.Printer);
        Assert.NotNull(open);
        Assert.Equal(Some.At(9, 10), open.Start);
        Assert.Equal("castle.gcode", open.File);

        // The new job still ends normally, with its own start.
        Apply(Some.Finished(Some.At(10), grams: 3));
        Assert.Equal(2, _ended.Count);
        Assert.Equal(Some.At(9, 10), _ended[1].Start);
        Assert.Equal(JobOutcome.Completed, _ended[1].Outcome);
        Assert.Equal("castle", _ended[1].Toy);
    }

    [Fact]
    public void Apply_DuplicateFinishWithJobIdAfterANewStart_DoesNotCloseTheNewJob()
    {
        var finishA = Some.Finished(Some.At(9), jobId: "A", grams: 5);

        Apply(Some.Started(Some.At(8), jobId: "A"), finishA, Some.Started(Some.At(9, 10), jobId: "B"), finishA);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
        Assert.Equal("B", _tracker.GetOpenJob(Some.Printer)?.JobId);
    }

    [Fact]
    public void Apply_DuplicateFinishWithoutJobIdStampedAtTheNextStart_DoesNotCloseTheNewJob()
    {
        // Epoch-seconds sources: the next job can start in the same second the previous one finished.
        var finishA = Some.Finished(Some.At(9), file: "dragon_x4.gcode", grams: 5);

        Apply(Some.Started(Some.At(8), file: "dragon_x4.gcode"), finishA, Some.Started(Some.At(9), file: "castle.gcode"), finishA);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
        Assert.Equal("castle.gcode", _tracker.GetOpenJob(Some.Printer)?.File);
    }

    [Fact]
    public void Apply_DuplicateStartWithJobId_IsIgnored()
    {
        var start = Some.Started(Some.At(8), jobId: "A", file: "dragon_x4.gcode");

        Apply(start, Some.Progress(Some.At(8, 30), 50), start);

        Assert.Empty(_ended);
        Assert.Equal(1, _tracker.Duplicates);
        var open = _tracker.GetOpenJob(Some.Printer);
        Assert.NotNull(open);
        Assert.Equal(50, open.LastProgressPercent);
    }

    [Fact]
    public void Apply_DuplicateStartWithoutJobId_IsIgnored()
    {
        var start = Some.Started(Some.At(8), file: "dragon_x4.gcode");

        Apply(start, start, Some.Finished(Some.At(9), grams: 1));

        var job = Assert.Single(_ended);
        Assert.Equal(JobOutcome.Completed, job.Outcome);
        Assert.Equal(Some.At(8), job.Start);
        Assert.Equal(1, _tracker.Duplicates);
    }

    [Theory]
    [InlineData("A")]
    [InlineData(null)]
    public void Apply_StartRedeliveredAfterItsJobEnded_DoesNotReopenIt(string? jobId)
    {
        var start = Some.Started(Some.At(8), jobId: jobId);

        Apply(start, Some.Finished(Some.At(9), jobId: jobId, grams: 1), start);

        Assert.Single(_ended);
        Assert.Equal(0, _tracker.OpenJobs);
        Assert.Equal(1, _tracker.Duplicates);
    }

    [Theory]
    [InlineData("A", "B")]
    [InlineData(null, null)]
    public void Apply_StartOfAnEndedJobRedeliveredWhileANewJobRuns_LeavesTheNewJobOpen(string? idA, string? idB)
    {
        var startA = Some.Started(Some.At(8), jobId: idA, file: "dragon_x4.gcode");

        Apply(
            startA,
            Some.Finished(Some.At(9), jobId: idA, grams: 1),
            Some.Started(Some.At(9, 10), jobId: idB, file: "castle.gcode"),
            startA,
            Some.Finished(Some.At(10), jobId: idB, grams: 2));

        Assert.Equal(2, _ended.Count);
        Assert.Equal(JobOutcome.Completed, _ended[1].Outcome);
        Assert.Equal("castle", _ended[1].Toy);
        Assert.Equal(1, _tracker.Duplicates);
    }

    // ---- A new start while a job is open ---------------------------------------------------------------------

    [Fact]
    public void Apply_NewStartWhileAJobIsOpen_CancelsTheOldJobAtTheNewStart()
    {
        var startA = Some.At(8);
        var startB = Some.At(9, 20);

        Apply(
            Some.Started(startA, jobId: "A", file: "castle_x2.gcode", material: "petg", estimatedTime: 7200),
            Some.Started(startB, jobId: "B", file: "dragon.gcode"));

        var cancelled = Assert.Single(_ended);
        Assert.Equal("A", cancelled.JobId);
        Assert.Equal(JobOutcome.Cancelled, cancelled.Outcome);
        Assert.Equal(startA, cancelled.Start);
        Assert.Equal(startB, cancelled.End);
        Assert.Equal((startB - startA).TotalSeconds, cancelled.PrintTimeSeconds);
        Assert.Equal(_toys.Parse("castle_x2.gcode"), new ToyInfo(cancelled.Toy, cancelled.Quantity));
        Assert.Equal("PETG", cancelled.Material);
        Assert.Equal(7200, cancelled.EstimatedTimeSeconds);
        Assert.Equal(FilamentSource.Unknown, cancelled.FilamentSource);
        Assert.Equal(0, cancelled.ToysCompleted);

        var open = _tracker.GetOpenJob(Some.Printer);
        Assert.NotNull(open);
        Assert.Equal("B", open.JobId);
        Assert.Equal(startB, open.Start);
    }

    [Fact]
    public void Apply_FinishOfACancelledJobArrivingLate_IsADuplicate()
    {
        Apply(Some.Started(Some.At(8), jobId: "A"), Some.Started(Some.At(9), jobId: "B"), Some.Finished(Some.At(8, 50), jobId: "A", grams: 1));

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
        Assert.Equal("B", _tracker.GetOpenJob(Some.Printer)?.JobId);
    }

    // ---- Finish without a start (worker started mid-print) ---------------------------------------------------

    [Fact]
    public void Apply_FinishWithoutStart_StillProducesAJobStartingPrintTimeBeforeTheEnd()
    {
        var end = Some.At(10);
        const double printTime = 1800;

        Apply(Some.Finished(end, JobOutcome.Completed, jobId: "Z", file: "dragon_x4.gcode", printTime: printTime, grams: 30));

        var job = Assert.Single(_ended);
        Assert.Equal("Z", job.JobId);
        Assert.Equal(end.AddSeconds(-printTime), job.Start);
        Assert.Equal(end, job.End);
        Assert.Equal(printTime, job.PrintTimeSeconds);
        Assert.Equal(_toys.Parse("dragon_x4.gcode"), new ToyInfo(job.Toy, job.Quantity));
        Assert.Equal(_materials.DefaultMaterial, job.Material);
        Assert.Equal(30, job.FilamentGrams);
        Assert.Equal(0, _tracker.OpenJobs);
    }

    [Fact]
    public void Apply_FinishWithoutStartOrPrintTime_StartsAtItsEnd()
    {
        Apply(Some.Finished(Some.At(10)));

        var job = Assert.Single(_ended);
        Assert.Equal(job.End, job.Start);
        Assert.Equal(0, job.PrintTimeSeconds);
        Assert.False(string.IsNullOrEmpty(job.JobId));
    }

    [Fact]
    public void Apply_FinishWithoutStartRedelivered_IsCountedOnce()
    {
        var finish = Some.Finished(Some.At(10), file: "dragon.gcode", printTime: 600);

        Apply(finish, finish);

        Assert.Single(_ended);
        Assert.Equal(1, _tracker.Duplicates);
    }

    [Fact]
    public void Apply_FinishOfAnotherJobId_LeavesTheOpenJobOpen()
    {
        Apply(Some.Started(Some.At(8), jobId: "B"), Some.Finished(Some.At(9), jobId: "A", printTime: 600));

        var job = Assert.Single(_ended);
        Assert.Equal("A", job.JobId);
        Assert.Equal(Some.At(9).AddSeconds(-600), job.Start);
        Assert.Equal("B", _tracker.GetOpenJob(Some.Printer)?.JobId);
    }

    [Fact]
    public void Apply_OrphanFinishesWithoutJobId_GetDistinctJobIds()
    {
        Apply(Some.Finished(Some.At(9), printTime: 60), Some.Finished(Some.At(10), printTime: 60));

        Assert.Equal(2, _ended.Count);
        Assert.NotEqual(_ended[0].JobId, _ended[1].JobId);
    }

    // ---- Progress ----------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_Progress_UpdatesTheOpenJobsLastProgress()
    {
        Apply(Some.Started(Some.At(8)), Some.Progress(Some.At(8, 10), 12.5), Some.Progress(Some.At(8, 20), 42.5));

        Assert.Equal(42.5, _tracker.GetOpenJob(Some.Printer)?.LastProgressPercent);
        Assert.Empty(_ended);
    }

    [Fact]
    public void Apply_StatusWithProgress_UpdatesTheOpenJobsLastProgress()
    {
        Apply(Some.Started(Some.At(8)), Some.Progress(Some.At(8, 10), 77, kind: EventKind.Status));

        Assert.Equal(77, _tracker.GetOpenJob(Some.Printer)?.LastProgressPercent);
    }

    [Fact]
    public void Apply_ProgressWithoutValue_KeepsTheLastProgress()
    {
        Apply(Some.Started(Some.At(8)), Some.Progress(Some.At(8, 10), 30), Some.Progress(Some.At(8, 20), null));

        Assert.Equal(30, _tracker.GetOpenJob(Some.Printer)?.LastProgressPercent);
    }

    [Fact]
    public void Apply_ProgressWithoutAnOpenJob_ChangesNothing()
    {
        Apply(Some.Progress(Some.At(8), 30));

        Assert.Equal(0, _tracker.OpenJobs);
        Assert.Null(_tracker.GetOpenJob(Some.Printer));
        Assert.Empty(_ended);
    }

    [Fact]
    public void Apply_NullEvent_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => _tracker.Apply(null!, _ended));
    }
}
