using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Reasons;

/// <summary>A material-efficiency alert says the top reason of the drop, from the jobs the reason tracker keeps.</summary>
public sealed class TopReasonAlertTests
{
    private static readonly WindowSpec Hourly = WindowSpec.Parse("1h");
    private static readonly DateTimeOffset RecentStart = Some.Day.AddDays(7);

    [Fact]
    public void An_efficiency_drop_names_the_reason_with_the_most_waste_in_its_recent_range()
    {
        var tracker = new ReasonTracker([Hourly]);
        var sut = new AlertEvaluator(new AlertRuleOptions(), TimeSpan.FromMinutes(10)) { TopReason = tracker.TopReason };
        var points = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Completed(4, 100))).ToList();

        // Recent: 90 g lost to clogs, 30 g to runouts; an older clog outside the range does not count.
        List<EndedJob> failed =
        [
            Failed(RecentStart.AddMinutes(10), 60, FailureReason.Clog, "j1"),
            Failed(RecentStart.AddMinutes(70), 30, FailureReason.Clog, "j2"),
            Failed(RecentStart.AddMinutes(80), 30, FailureReason.FilamentRunout, "j3"),
            Failed(Some.Day.AddDays(6), 500, FailureReason.Spaghetti, "j0"),
        ];
        failed.ForEach(j => tracker.AddJob(j, (_, _) => false));
        points.Add(Window(RecentStart, Completed(1, 100).Append(failed[0])));
        points.Add(Window(RecentStart.AddHours(1), failed.Skip(1).Take(2)));

        var output = new List<AlertTransition>();
        sut.Evaluate(points, RecentStart.AddHours(3).AddMinutes(10), output);

        var fired = Assert.Single(output, a => a.Rule == AlertRuleNames.EfficiencyDrop);
        Assert.EndsWith("; top reason: clog, 75 % of the waste", fired.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(output, a => a.Rule == AlertRuleNames.SuccessRateDrop && a.Message.Contains("top reason", StringComparison.Ordinal));
    }

    [Fact]
    public void Top_reason_follows_a_label_and_is_none_without_waste()
    {
        var tracker = new ReasonTracker([Hourly]);
        tracker.AddJob(Failed(RecentStart, 10, FailureReason.Unknown, "j1"), (_, _) => false);
        Assert.Equal("top reason: unknown, 100 % of the waste", tracker.TopReason(KpiScope.Farm, string.Empty, RecentStart, RecentStart.AddHours(1)));
        Assert.True(tracker.Label($"{Some.Printer}/j1", """{"reason":"power_loss"}"""u8.ToArray(), out _).Accepted);
        Assert.Equal("top reason: power_loss, 100 % of the waste", tracker.TopReason(KpiScope.Printer, Some.Printer, RecentStart, RecentStart.AddHours(1)));
        Assert.Null(tracker.TopReason(KpiScope.Printer, "p2", RecentStart, RecentStart.AddHours(1)));
    }

    private static EndedJob Failed(DateTimeOffset end, double grams, FailureReason reason, string id) =>
        Some.Job(end, JobOutcome.Failed, grams: grams, jobId: id) with { Reason = reason, ReasonSource = FailureReasons.FromPrinter };

    private static IEnumerable<EndedJob> Completed(int count, double grams) =>
        Enumerable.Range(0, count).Select(_ => Some.Job(Some.Day, JobOutcome.Completed, grams: grams, printTime: 1800));

    private static KpiPoint Window(DateTimeOffset start, IEnumerable<EndedJob> jobs)
    {
        var totals = default(KpiTotals);
        foreach (var job in jobs)
        {
            totals.Add(job);
        }

        return new KpiPoint(Hourly, start, start.AddHours(1), KpiScope.Printer, Some.Printer, totals);
    }
}
