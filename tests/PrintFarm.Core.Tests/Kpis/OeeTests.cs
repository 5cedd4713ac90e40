using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Tests.Kpis;

public sealed class OeeTests
{
    [Fact]
    public void Oee_is_the_product_of_availability_performance_and_quality()
    {
        var a = Oee.Availability(6 * 3600, 8 * 3600);
        var p = Oee.Performance(5400, 6000);
        var q = Oee.Quality(9, 10);
        Assert.Equal(0.75, a);
        Assert.Equal(0.9, p);
        Assert.Equal(0.9, q);
        Assert.Equal(0.75 * 0.9 * 0.9, Oee.Value(a, p, q)!.Value, 12);
    }

    [Fact]
    public void Performance_and_availability_are_capped_at_one()
    {
        Assert.Equal(1.0, Oee.Performance(7200, 3600));
        Assert.Equal(1.0, Oee.Availability(3601, 3600));
    }

    [Fact]
    public void Without_planned_time_estimated_jobs_or_started_toys_the_part_and_OEE_are_unknown()
    {
        Assert.Null(Oee.Availability(0, 0));
        Assert.Null(Oee.Performance(100, 0));
        Assert.Null(Oee.Quality(0, 0));
        Assert.Null(Oee.Value(1, null, 1));
    }

    [Fact]
    public void Random_inputs_give_OEE_between_zero_and_one()
    {
        var random = new Random(42);
        for (var i = 0; i < 10_000; i++)
        {
            var planned = random.NextDouble() * 86400;
            var started = random.Next(0, 50);
            var value = Oee.Value(Oee.Availability(random.NextDouble() * planned, planned), Oee.Performance(random.NextDouble() * 9000, random.NextDouble() * 9000), Oee.Quality(random.Next(0, started + 1), started));
            Assert.True(value is null or (>= 0 and <= 1), $"OEE {value}");
        }
    }

    private static EndedJob Job(JobOutcome outcome, FailureReason? reason, int quantity = 3) => new()
    {
        Printer = "p",
        Source = "native",
        JobId = "j",
        File = "f.gcode",
        Toy = "t",
        Quantity = quantity,
        Material = "PLA",
        Outcome = outcome,
        Reason = FailureReasons.ForOutcome(outcome, reason),
        Start = DateTimeOffset.UnixEpoch,
        End = DateTimeOffset.UnixEpoch.AddHours(1),
        PrintTimeSeconds = 3600,
        FilamentGrams = 1,
        FilamentSource = FilamentSource.Measured,
    };

    [Theory]
    [InlineData(JobOutcome.Completed, null, false)]
    [InlineData(JobOutcome.Failed, null, true)] // no reason: Unknown, still scrap
    [InlineData(JobOutcome.Failed, FailureReason.Spaghetti, true)]
    [InlineData(JobOutcome.Failed, FailureReason.OperatorCancel, false)] // Bambu: a cancel reported as FAILED
    [InlineData(JobOutcome.Cancelled, null, false)] // a plain cancel: an operator's decision
    [InlineData(JobOutcome.Cancelled, FailureReason.OperatorCancel, false)]
    [InlineData(JobOutcome.Cancelled, FailureReason.Adhesion, true)] // stopped because the first layer let go
    [InlineData(JobOutcome.Cancelled, FailureReason.UserError, true)]
    public void A_job_counts_against_quality_unless_it_completed_or_was_an_operator_cancel(JobOutcome outcome, FailureReason? reason, bool counts)
    {
        Assert.Equal(counts, Oee.CountsAgainstQuality(Job(outcome, reason)));
    }

    [Fact]
    public void Every_outcome_and_reason_counts_against_quality_exactly_when_its_toys_were_lost_and_no_operator_chose_to_stop()
    {
        FailureReason?[] reasons = [null, .. FailureReasons.All.Cast<FailureReason?>()];
        foreach (var outcome in Enum.GetValues<JobOutcome>())
        {
            foreach (var reason in reasons)
            {
                var job = Job(outcome, reason);
                var operatorStop = job.Reason == FailureReason.OperatorCancel || (outcome == JobOutcome.Cancelled && job.Reason == FailureReason.Unknown);
                Assert.Equal(outcome != JobOutcome.Completed && !operatorStop, Oee.CountsAgainstQuality(job));
            }
        }
    }

    [Fact]
    public void Quality_over_random_jobs_is_good_toys_over_good_toys_and_the_toys_of_jobs_that_count_against_it()
    {
        var random = new Random(21);
        FailureReason?[] reasons = [null, .. FailureReasons.All.Cast<FailureReason?>()];
        for (var run = 0; run < 200; run++)
        {
            long good = 0, started = 0, lost = 0;
            for (var i = random.Next(1, 30); i > 0; i--)
            {
                var job = Job((JobOutcome)random.Next(3), reasons[random.Next(reasons.Length)], random.Next(1, 6));
                good += job.Outcome == JobOutcome.Completed ? job.Quantity : 0;
                started += job.Outcome == JobOutcome.Completed || Oee.CountsAgainstQuality(job) ? job.Quantity : 0;
                lost += Oee.CountsAgainstQuality(job) ? job.Quantity : 0;
            }

            var quality = Oee.Quality(good, started);
            Assert.Equal(started == 0, quality is null);
            if (quality is { } q)
            {
                Assert.InRange(q, 0, 1);
                Assert.Equal(lost == 0, q == 1);
            }
        }
    }
}
