using System.Text.Json;
using PrintFarm.Core.Cost;
using PrintFarm.Core.Events;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Cost;

/// <summary>
/// Properties of the energy meter over generated days of one plugged printer: a true draw (heating, printing, idle),
/// readings at random intervals (seconds to an hour: gaps), counter resets between readings, jobs of every outcome.
/// </summary>
public sealed class EnergyMeterPropertyTests
{
    private const string Printer = "p1";
    private const string Plug = "plug1";
    private static readonly DateTimeOffset Origin = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 20)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Energy_is_conserved_every_counted_kWh_goes_to_one_job_or_to_idle_draw(int seed)
    {
        var day = Day.Generate(seed);
        var result = Run(day, checkpointAt: null);

        Assert.Equal(result.Metered, result.JobKwh.Values.Sum() + result.IdleKwh, 9);
        Assert.All(result.JobKwh.Values, kwh => Assert.True(kwh >= 0));
        Assert.True(result.IdleShares.All(k => k >= 0));
        Assert.Equal(day.Jobs.Count, result.JobKwh.Count);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Counter_resets_never_lose_or_invent_energy_the_meter_counts_exactly_what_the_plug_counted(int seed)
    {
        var day = Day.Generate(seed);
        var result = Run(day, checkpointAt: null);

        // What the plug counted: the true draw between readings, less what it drew between a reading and a reset
        // (lost by the plug itself, which starts again from zero).
        Assert.True(day.Resets > 0, "the generated day has counter resets");
        Assert.Equal(day.CountedByPlug, result.Metered, 9);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_checkpoint_and_restore_at_any_point_neither_loses_nor_doubles_energy(int seed)
    {
        var day = Day.Generate(seed);
        var straight = Run(day, checkpointAt: null);
        var restarted = Run(day, checkpointAt: new Random(seed).Next(day.Steps.Count));

        Assert.Equal(straight.Metered, restarted.Metered, 9);
        Assert.Equal(straight.IdleKwh, restarted.IdleKwh, 9);
        Assert.Equal(straight.JobKwh.Keys.Order(), restarted.JobKwh.Keys.Order());
        foreach (var (job, kwh) in straight.JobKwh)
        {
            Assert.Equal(kwh, restarted.JobKwh[job], 9);
        }
    }

    [Fact]
    public void A_job_between_readings_gets_the_share_of_the_interval_it_covers_interpolated_at_its_edges()
    {
        // Readings every 10 minutes at a steady 120 W (0.02 kWh per 10 min); the job runs 00:05–00:35.
        var meter = new EnergyMeter(new Dictionary<string, string> { [Plug] = Printer });
        var idle = new List<IdleEnergy>();
        var settled = new List<SettledJob>();
        var job = Some.Job(Origin.AddMinutes(35), printTime: 1800, printer: Printer);
        for (var m = 0; m <= 40; m += 10)
        {
            if (m == 10)
            {
                meter.JobOpened(Printer, Origin.AddMinutes(5));
            }

            if (m == 40)
            {
                Assert.Null(meter.JobEnded(job));
            }

            meter.Read(Printer, Origin.AddMinutes(m), 100 + (m / 10 * 0.02));
        }

        meter.Advance(Origin.AddHours(1), idle, settled);

        var only = Assert.Single(settled);
        Assert.Equal(0.06, only.Kwh!.Value, 9);
        Assert.Equal(0.02, idle.Sum(i => i.Kwh), 9);
        Assert.Equal(2, idle.Count); // 00:00–00:05 and 00:35–00:40
    }

    [Fact]
    public void A_reset_mid_job_counts_the_new_value_from_zero_never_a_negative_amount()
    {
        var meter = new EnergyMeter(new Dictionary<string, string> { [Plug] = Printer });
        var idle = new List<IdleEnergy>();
        var settled = new List<SettledJob>();
        meter.Read(Printer, Origin, 50.0);
        meter.JobOpened(Printer, Origin);
        meter.Read(Printer, Origin.AddMinutes(10), 50.1);
        meter.Read(Printer, Origin.AddMinutes(20), 0.03); // restarted: 0.03 kWh since the restart
        meter.Read(Printer, Origin.AddMinutes(30), 0.13);
        meter.JobEnded(Some.Job(Origin.AddMinutes(30), printTime: 1800, printer: Printer));
        meter.Advance(Origin.AddHours(1), idle, settled);

        Assert.Equal(0.23, Assert.Single(settled).Kwh!.Value, 9);
        Assert.Empty(idle);
    }

    [Fact]
    public void A_job_ended_before_its_plug_ever_reported_is_settled_at_once_without_energy()
    {
        var meter = new EnergyMeter(new Dictionary<string, string> { [Plug] = Printer });

        var settled = meter.JobEnded(Some.Job(Origin.AddHours(1), printer: Printer));

        Assert.NotNull(settled);
        Assert.Null(settled.Value.Kwh);
    }

    [Fact]
    public void A_native_reading_of_a_printer_that_has_a_plug_is_ignored_so_nothing_is_counted_twice()
    {
        var meter = new EnergyMeter(new Dictionary<string, string> { [Plug] = Printer });

        Assert.Equal(ReadingOutcome.Ignored, meter.Read(Printer, Origin, 5, native: true));
        Assert.Equal(ReadingOutcome.Counted, meter.Read(Printer, Origin, 5));
        Assert.Equal(ReadingOutcome.Stale, meter.Read(Printer, Origin, 6));
        Assert.Equal(ReadingOutcome.Counted, meter.Read("p2", Origin, 5, native: true));
    }

    private sealed record Outcome(double Metered, double IdleKwh, List<double> IdleShares, Dictionary<string, double> JobKwh);

    private static Outcome Run(Day day, int? checkpointAt)
    {
        var plugs = new Dictionary<string, string> { [Plug] = Printer };
        var meter = new EnergyMeter(plugs);
        var idle = new List<IdleEnergy>();
        var settled = new List<SettledJob>();
        for (var i = 0; i < day.Steps.Count; i++)
        {
            if (i == checkpointAt)
            {
                var json = JsonSerializer.Serialize(meter.SaveState(), CheckpointJson);
                meter = new EnergyMeter(plugs);
                meter.RestoreState(JsonSerializer.Deserialize<EnergyMeterState>(json, CheckpointJson));
            }

            var step = day.Steps[i];
            switch (step)
            {
                case Step.Reading r: meter.Read(Printer, r.Time, r.Counter); break;
                case Step.Opened o: meter.JobOpened(Printer, o.Job.Start); break;
                case Step.Ended e:
                    if (meter.JobEnded(e.Job) is { } now)
                    {
                        settled.Add(now);
                    }

                    break;
            }

            meter.Advance(step.Time - TimeSpan.FromSeconds(30), idle, settled);
        }

        meter.Advance(DateTimeOffset.MaxValue, idle, settled);
        return new Outcome(meter.MeteredKwh, idle.Sum(i => i.Kwh), idle.Select(i => i.Kwh).ToList(), settled.ToDictionary(s => s.Job.JobId, s => s.Kwh ?? 0));
    }

    private static readonly JsonSerializerOptions CheckpointJson = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private abstract record Step(DateTimeOffset Time)
    {
        public sealed record Reading(DateTimeOffset Time, double Counter) : Step(Time);

        public sealed record Opened(EndedJob Job) : Step(Job.Start);

        public sealed record Ended(EndedJob Job) : Step(Job.End);
    }

    private sealed class Day
    {
        public List<Step> Steps { get; } = [];

        public List<EndedJob> Jobs { get; } = [];

        public double CountedByPlug { get; private set; }

        public int Resets { get; private set; }

        public static Day Generate(int seed)
        {
            var random = new Random(seed);
            var day = new Day();

            // Jobs: heating 5–10 min at 300 W, printing at 120 W, idle 8 W between them.
            var draw = new List<(DateTimeOffset From, DateTimeOffset To, double Watts)>();
            var t = Origin.AddMinutes(random.Next(5, 60));
            draw.Add((Origin, t, 8));
            for (var n = 0; t < Origin.AddHours(20); n++)
            {
                var heat = TimeSpan.FromMinutes(random.Next(5, 11));
                var print = TimeSpan.FromMinutes(random.Next(20, 240));
                var outcome = (JobOutcome)random.Next(3);
                var job = Some.Job(t + heat + print, outcome, printTime: (heat + print).TotalSeconds, printer: Printer, jobId: "j" + n);
                day.Jobs.Add(job);
                draw.Add((t, t + heat, 300));
                draw.Add((t + heat, t + heat + print, 120));
                t += heat + print;
                var rest = TimeSpan.FromMinutes(random.Next(0, 90));
                draw.Add((t, t + rest, 8));
                t += rest;
            }

            double Energy(DateTimeOffset a, DateTimeOffset b) => draw.Sum(d =>
            {
                var from = d.From > a ? d.From : a;
                var to = d.To < b ? d.To : b;
                return to > from ? d.Watts * (to - from).TotalHours / 1000 : 0;
            });

            var end = t;
            var steps = new List<Step>();
            foreach (var job in day.Jobs)
            {
                steps.Add(new Step.Opened(job));
                steps.Add(new Step.Ended(job));
            }

            // Readings: every 10 s to 1 h; the counter starts at a realistic lifetime total, and resets now and then.
            var counter = 100.0 + random.NextDouble() * 50;
            var at = Origin;
            steps.Add(new Step.Reading(at, counter));
            while (at < end)
            {
                var next = at + TimeSpan.FromSeconds(random.Next(10, 3600));
                var reset = at + TimeSpan.FromTicks((long)((next - at).Ticks * random.NextDouble()));

                // A reset shows only as a smaller value than the last reading (a plug that restarts and then counts
                // past its old total before it reports looks like steady growth to anyone): so the generator resets
                // only counters that end below their last value, as real lifetime counters do.
                if (random.NextDouble() < 0.05 && Energy(reset, next) < counter)
                {
                    counter = Energy(reset, next);
                    day.CountedByPlug += counter;
                    day.Resets++;
                }
                else
                {
                    var e = Energy(at, next);
                    counter += e;
                    day.CountedByPlug += e;
                }

                steps.Add(new Step.Reading(next, counter));
                at = next;
            }

            // Make sure each day has a reset (the property is about them).
            if (day.Resets == 0 && counter > 0)
            {
                var next = at + TimeSpan.FromMinutes(5);
                counter = Energy(at, next) / 2;
                day.CountedByPlug += counter;
                day.Resets++;
                steps.Add(new Step.Reading(next, counter));
            }

            day.Steps.AddRange(steps.OrderBy(s => s.Time).ThenBy(s => s is Step.Reading ? 1 : 0));
            return day;
        }
    }
}
