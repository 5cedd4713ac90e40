using PrintFarm.Core.Ingestion.Energy;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Truth;

namespace PrintFarm.IntegrationTests.Cost;

/// <summary>The simulator's smart plugs: real-looking payloads, a counter reset mid-job, and an energy truth close to the real draw.</summary>
public sealed class SimulatorPlugsTests
{
    [Fact]
    public void Plugged_printers_publish_readable_counters_with_a_reset_and_the_metered_energy_of_each_job_is_within_its_edges_of_the_draw()
    {
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 6,
            Mix = FormatMix.Parse("mixed"),
            Seed = 11,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(6),
            SmartPlugs = true,
        });
        var messages = simulation.Messages().ToList();

        Assert.Equal([PlugType.Tasmota, PlugType.Shelly], simulation.Plugs.Plugs.Select(p => p.Type));
        foreach (var plug in simulation.Plugs.Plugs)
        {
            var readings = messages.Where(m => m.Topic == plug.Topic).Select(m =>
            {
                var result = plug.Type == PlugType.Tasmota
                    ? PlugPayloads.ReadTasmota(m.Payload.Span, TimeZoneInfo.Utc, m.Time, out var r)
                    : PlugPayloads.ReadShelly(m.Payload.Span, m.Time, out r);
                Assert.True(result.Accepted, result.Detail);
                Assert.Equal(m.Time, r.Time);
                return r;
            }).ToList();
            Assert.True(readings.Count > 100, $"{plug.Name}: {readings.Count} readings");
            var drops = readings.Zip(readings.Skip(1)).Count(p => p.Second.CounterKwh < p.First.CounterKwh);
            Assert.Equal(plug.Type == PlugType.Shelly ? 1 : 0, drops);
        }

        Assert.Equal(1, simulation.Plugs.Resets);
        var plugged = simulation.Truth.Jobs.Where(j => simulation.Plugs.Plugs.Any(p => p.Printer == j.Planned.Printer) && j.Planned.End < simulation.Stop!.Value.AddMinutes(-10)).ToList();
        Assert.True(plugged.Count >= 4, $"{plugged.Count} plugged jobs");
        foreach (var job in plugged)
        {
            var metered = simulation.Plugs.JobKwh(job.Reported)!.Value;
            var drawn = simulation.Plugs.DrawnKwh(job.Planned)!.Value;

            // Interpolation at each edge misattributes at most one reading interval (120 s) of the largest difference in
            // draw; the reset loses at most one interval (60 s) of printing.
            Assert.InRange(metered, drawn - (2 * 120 * SmartPlugs.HeatingWatts / 3600 / 1000) - (60 * SmartPlugs.PrintingWatts / 3600 / 1000), drawn + (2 * 120 * SmartPlugs.HeatingWatts / 3600 / 1000));
            Assert.True(metered > 0);
        }

        Assert.Empty(new FarmSimulation(new SimulationOptions { Printers = 3, Duration = TimeSpan.FromHours(1) }).Plugs.Plugs);
    }
}
