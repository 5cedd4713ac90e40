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
}
