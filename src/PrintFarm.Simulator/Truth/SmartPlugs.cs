using System.Globalization;
using System.Text;
using PrintFarm.Core.Cost;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Energy;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Truth;

/// <summary>A simulated smart plug: its name (as in <c>PrintFarm:Energy:Plugs</c>), the printer it feeds and its format.</summary>
/// <param name="Name">Plug name: Tasmota's <c>Topic</c> setting, or Shelly's MQTT prefix.</param>
/// <param name="Printer">The printer plugged into it.</param>
/// <param name="Type">Payload format.</param>
public sealed record SimPlug(string Name, string Printer, PlugType Type)
{
    /// <summary>The topic it publishes its counter on.</summary>
    public string Topic => new PlugOptions { Printer = Printer, Type = Type }.TopicFor(Name);
}

/// <summary>
/// Smart plugs on every third printer (<see cref="SimulationOptions.SmartPlugs"/>), Tasmota and Shelly Gen2 in turn,
/// with a realistic draw — heating, printing, paused, idle — and one counter reset (the plug restarts) in the middle of
/// each Shelly plug's first job. Also the ground truth of metered energy: what the worker should report per job, from
/// the same readings with the core's own <see cref="EnergyMeter"/>, and what the printer really drew.
/// </summary>
public sealed class SmartPlugs
{
    /// <summary>Draw while idle (standby, bed cold), W.</summary>
    public const double IdleWatts = 8;

    /// <summary>Draw while heating nozzle and bed, W.</summary>
    public const double HeatingWatts = 260;

    /// <summary>Draw while printing (bed held at temperature, motors), W.</summary>
    public const double PrintingWatts = 115;

    /// <summary>Draw while paused (heaters holding), W.</summary>
    public const double PausedWatts = 70;

    private readonly object _gate = new();
    private readonly Dictionary<string, PlugState> _byPrinter = new(StringComparer.Ordinal);
    private readonly EnergyMeter _meter;
    private readonly TimeZoneInfo _zone;

    internal SmartPlugs(IReadOnlyList<SimPrinter> printers, bool enabled, TimeZoneInfo? zone = null)
    {
        _zone = zone ?? TimeZoneInfo.Utc;
        var plugs = new List<SimPlug>();
        for (var i = 0; enabled && i < printers.Count; i += 3)
        {
            var type = plugs.Count % 2 == 0 ? PlugType.Tasmota : PlugType.Shelly;
            var plug = new SimPlug((type == PlugType.Tasmota ? "tasmota-" : "shellyplugs-") + printers[i].Id, printers[i].Id, type);
            plugs.Add(plug);
            _byPrinter[plug.Printer] = new PlugState(plug);
        }

        Plugs = plugs;
        _meter = new EnergyMeter(plugs.ToDictionary(p => p.Name, p => p.Printer, StringComparer.Ordinal));
    }

    /// <summary>The plugs.</summary>
    public IReadOnlyList<SimPlug> Plugs { get; }

    /// <summary>The worker's <c>PrintFarm:Energy:Plugs</c> settings for these plugs.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings() => Plugs.SelectMany(p => new[]
    {
        new KeyValuePair<string, string?>($"PrintFarm:Energy:Plugs:{p.Name}:Printer", p.Printer),
        new KeyValuePair<string, string?>($"PrintFarm:Energy:Plugs:{p.Name}:Type", p.Type.ToString()),
    });

    /// <summary>How many counter resets the plugs have made so far.</summary>
    public int Resets
    {
        get
        {
            lock (_gate)
            {
                return _byPrinter.Values.Sum(s => s.Resets);
            }
        }
    }

    /// <summary>
    /// The energy the worker should report for a job (its <c>energy_kwh</c>), from every reading so far; null when its
    /// printer has no plug. Read it once the trace has passed the job's end by a reading interval.
    /// </summary>
    public double? JobKwh(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        lock (_gate)
        {
            if (!_byPrinter.ContainsKey(job.Printer))
            {
                return null;
            }

            // The core's meter over a copy of the readings so far, attributed to the end.
            var meter = new EnergyMeter(Plugs.ToDictionary(p => p.Name, p => p.Printer, StringComparer.Ordinal));
            meter.RestoreState(_meter.SaveState());
            var idle = new List<IdleEnergy>();
            var settled = new List<SettledJob>();
            meter.Advance(DateTimeOffset.MaxValue, idle, settled);
            return settled.Where(s => s.Job.JobId == job.JobId && s.Job.Printer == job.Printer).Select(s => s.Kwh).FirstOrDefault();
        }
    }

    /// <summary>What the printer really drew during the job (its start to its end), kWh; null without a plug.</summary>
    public double? DrawnKwh(PlannedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        lock (_gate)
        {
            if (!_byPrinter.ContainsKey(job.Printer))
            {
                return null;
            }
        }

        var paused = job.PauseAtPercent is null ? 0 : job.PauseSeconds;
        return ((job.HeatUpSeconds * HeatingWatts) + (paused * PausedWatts) + (job.PrintedSeconds * PrintingWatts)) / 3600 / 1000;
    }

    /// <summary>A job was planned on a printer (its reported form is what the worker will record).</summary>
    internal void Planned(PlannedJob job, EndedJob reported)
    {
        lock (_gate)
        {
            if (!_byPrinter.TryGetValue(job.Printer, out var s))
            {
                return;
            }

            s.Jobs.Add(job);
            if (s.Jobs.Count > 3)
            {
                s.Jobs.RemoveAt(0);
            }

            // The first job of a Shelly plug: the plug restarts halfway through its printing.
            if (s.Plug.Type == PlugType.Shelly && s.ResetAt is null && s.Resets == 0)
            {
                s.ResetAt = job.PrintingFrom.AddSeconds(job.PrintedSeconds / 2);
            }

            _meter.JobOpened(job.Printer, reported.Start);
            _meter.JobEnded(reported);
        }
    }

    /// <summary>The plug's readings due up to <paramref name="time"/> (inclusive), in time order; none without a plug.</summary>
    internal IEnumerable<SimMessage> Until(string printer, DateTimeOffset time)
    {
        List<SimMessage>? due = null;
        lock (_gate)
        {
            if (!_byPrinter.TryGetValue(printer, out var s))
            {
                return [];
            }

            while (s.Next <= time)
            {
                (due ??= []).Add(Reading(s, s.Next));
            }
        }

        return due ?? (IEnumerable<SimMessage>)[];
    }

    private SimMessage Reading(PlugState s, DateTimeOffset at)
    {
        if (s.Last is { } last)
        {
            if (s.ResetAt is { } reset && reset > last && reset <= at)
            {
                // Restarted: what it drew before the restart is lost, it counts from zero.
                s.CounterKwh = s.Energy(reset, at);
                s.ResetAt = null;
                s.Resets++;
            }
            else
            {
                s.CounterKwh += s.Energy(last, at);
            }
        }

        s.Last = at;
        s.Next = at + (s.Plug.Type == PlugType.Tasmota ? TimeSpan.FromSeconds(120) : TimeSpan.FromSeconds(60));
        _meter.Read(s.Plug.Printer, at, Math.Round(s.CounterKwh, 6));
        var json = s.Plug.Type == PlugType.Tasmota
            ? string.Create(CultureInfo.InvariantCulture, $$$"""{"Time":"{{{TimeZoneInfo.ConvertTime(at, _zone):yyyy-MM-dd'T'HH:mm:ss}}}","ENERGY":{"TotalStartTime":"2025-11-20T09:12:44","Total":{{{Math.Round(s.CounterKwh, 6)}}},"Power":{{{Math.Round(s.Watts(at))}}}}}""")
            : string.Create(CultureInfo.InvariantCulture, $$$"""{"id":0,"source":"init","output":true,"apower":{{{s.Watts(at):0.0}}},"voltage":230.4,"aenergy":{"total":{{{Math.Round(s.CounterKwh * 1000, 3)}}},"minute_ts":{{{at.ToUnixTimeSeconds()}}}}}""");
        return new SimMessage(at, s.Plug.Topic, Encoding.UTF8.GetBytes(json), 0, false);
    }

    /// <summary>Starts a plug's readings at <paramref name="start"/> (the trace's start); its counter is a lifetime total.</summary>
    internal void Begin(string printer, DateTimeOffset start)
    {
        lock (_gate)
        {
            if (_byPrinter.TryGetValue(printer, out var s))
            {
                // The baseline reading now, so the truth meter knows the plug before the first job is planned; its
                // message goes out at the start like every other reading.
                s.Next = start;
                s.Last = start;
                s.CounterKwh = 40 + (printer.Length * 3.7);
                _meter.Read(printer, start, Math.Round(s.CounterKwh, 6));
            }
        }
    }

    private sealed class PlugState(SimPlug plug)
    {
        public SimPlug Plug { get; } = plug;

        public List<PlannedJob> Jobs { get; } = [];

        public DateTimeOffset Next { get; set; } = DateTimeOffset.MaxValue;

        public DateTimeOffset? Last { get; set; }

        public double CounterKwh { get; set; }

        public DateTimeOffset? ResetAt { get; set; }

        public int Resets { get; set; }

        public double Watts(DateTimeOffset t)
        {
            foreach (var job in Jobs)
            {
                if (t >= job.Start && t < job.End)
                {
                    return t < job.PrintingFrom ? HeatingWatts
                        : job.PausedFrom is { } p && t >= p && t < job.ResumedAt ? PausedWatts
                        : PrintingWatts;
                }
            }

            return IdleWatts;
        }

        // The energy drawn from a to b, kWh: each job's phases where they overlap, idle elsewhere.
        public double Energy(DateTimeOffset a, DateTimeOffset b)
        {
            var cuts = new SortedSet<DateTimeOffset> { a, b };
            foreach (var job in Jobs)
            {
                foreach (var edge in new DateTimeOffset?[] { job.Start, job.PrintingFrom, job.PausedFrom, job.ResumedAt, job.End })
                {
                    if (edge is { } e && e > a && e < b)
                    {
                        cuts.Add(e);
                    }
                }
            }

            var list = cuts.ToList();
            var kwh = 0.0;
            for (var i = 0; i + 1 < list.Count; i++)
            {
                kwh += Watts(list[i]) * (list[i + 1] - list[i]).TotalHours / 1000;
            }

            return kwh;
        }
    }
}
