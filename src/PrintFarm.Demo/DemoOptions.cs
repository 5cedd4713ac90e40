using System.Globalization;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Demo;

/// <summary>Command-line options of the demo.</summary>
internal sealed class DemoOptions
{
    public const string Usage = """
usage: ./build.sh demo [options]      (dotnet run --project src/PrintFarm.Demo -- [options])
A farm in a box: the embedded MQTT broker, a simulated farm and the worker in one process, with a live board.
  --printers N     simulated printers (default 12)
  --mix MIX        mixed | octoprint | moonraker | bambu | native | octoprint=2,bambu=1,... (default mixed)
  --speed X        simulated seconds per real second (default 60: a 2 h print takes 2 min)
  --seed N         seed of the simulation (default 42)
  --scenario S     efficiency-drop | steady (default efficiency-drop: at --drop-after half the printers start failing)
  --drop-after D   simulated time before the efficiency drop (default 390m: half a minute after the warm-up)
  --warm-up D      simulated time played at full speed first, so the board has jobs at once (default 6h; 0: none)
  --port P         embedded broker port (default 1883; a free port when 1883 is taken)
  --for D          stop by itself after this much real time (30s, 5m); default: until Ctrl-C
  --plain          plain periodic lines instead of the live board (the default when output is not a terminal)
Writes to InfluxDB when PrintFarm__Influx__Url is set and answers; otherwise to a line-protocol file in the data
folder (PrintFarm__DataFolder, default ~/.local/state/printfarm/demo). See README.md and docs/simulator.md.
""";

    public int Printers { get; set; } = 12;

    public FormatMix Mix { get; set; } = FormatMix.Equal;

    public double Speed { get; set; } = 60;

    public int Seed { get; set; } = 42;

    public Scenario Scenario { get; set; } = Scenario.EfficiencyDrop;

    public TimeSpan DropAfter { get; set; } = TimeSpan.FromMinutes(390);

    public TimeSpan WarmUp { get; set; } = TimeSpan.FromHours(6);

    public int? Port { get; set; }

    public TimeSpan? For { get; set; }

    public bool Plain { get; set; }

    public DateTimeOffset? Start { get; set; }

    public bool Help { get; set; }

    /// <exception cref="FormatException">A bad option.</exception>
    public static DemoOptions Parse(string[] args)
    {
        var o = new DemoOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--help" or "-h": o.Help = true; break;
                case "--printers": o.Printers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--mix": o.Mix = FormatMix.Parse(Next()); break;
                case "--speed": o.Speed = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--scenario": o.Scenario = SimDuration.ParseScenario(Next()); break;
                case "--drop-after": o.DropAfter = SimDuration.Parse(Next()) ?? TimeSpan.Zero; break;
                case "--warm-up": o.WarmUp = SimDuration.Parse(Next()) ?? TimeSpan.Zero; break;
                case "--port": o.Port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--for": o.For = SimDuration.Parse(Next()); break;
                case "--plain": o.Plain = true; break;
                case "--start": o.Start = DateTimeOffset.Parse(Next(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal); break;
                default: throw new FormatException($"unknown option '{args[i]}'");
            }
        }

        if (o.Printers < 1 || o.Speed <= 0)
        {
            throw new FormatException("--printers must be at least 1 and --speed above 0");
        }

        return o;
    }
}
