using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

namespace PrintFarm.Simulator.Tests;

public sealed class TraceDeterminismTests
{
    private static byte[] Trace(int seed, string mix = "mixed", Scenario scenario = Scenario.EfficiencyDrop)
    {
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 12,
            Mix = FormatMix.Parse(mix),
            Seed = seed,
            Duration = TimeSpan.FromHours(6),
            Scenario = scenario,
        });
        using var stream = new MemoryStream();
        TraceWriter.Write(simulation, stream);
        return stream.ToArray();
    }

    [Fact]
    public void The_same_seed_gives_the_same_trace_byte_for_byte()
    {
        var first = Trace(7);
        var second = Trace(7);

        Assert.True(first.Length > 10_000, $"a 6 h trace of 12 printers is only {first.Length} bytes");
        Assert.Equal(first, second);
    }

    [Fact]
    public void Another_seed_gives_another_trace()
    {
        Assert.NotEqual(Trace(7), Trace(8));
    }

    [Fact]
    public void The_trace_is_in_time_order_and_every_message_is_within_the_duration()
    {
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 20, Duration = TimeSpan.FromHours(5), Seed = 3 });
        var messages = simulation.Messages().ToList();

        Assert.All(messages.Zip(messages.Skip(1)), pair => Assert.True(pair.First.Time <= pair.Second.Time));
        Assert.All(messages, m => Assert.InRange(m.Time, simulation.Options.Start, simulation.Stop!.Value.AddTicks(-1)));
        Assert.Equal(4, simulation.Printers.Select(p => p.Format).Distinct().Count());
        Assert.Equal([5, 5, 5, 5], FormatMix.Equal.Quotas(20));
    }
}
