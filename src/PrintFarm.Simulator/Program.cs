using System.Globalization;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;

// printfarm-sim: a simulated printer farm publishing the four supported formats to any MQTT broker.
const string Usage = """
usage: printfarm-sim [options]
  --host HOST          broker host (default localhost)
  --port PORT          broker port (default 1883)
  --username U         broker user (optional); --password P
  --printers N         printers (default 12)
  --mix MIX            mixed | octoprint | moonraker | bambu | native | octoprint=2,bambu=1,... (default mixed)
  --speed X            simulated seconds per real second (default 1; 60: a 2 h print takes 2 min)
  --seed N             seed; the same seed gives the same trace byte for byte (default 42)
  --duration D         simulated time to cover: 90m, 8h, 2d; 0 for no end (default 0)
  --scenario S         steady | efficiency-drop (default steady)
  --drop-after D       efficiency-drop: simulated time before half the printers start failing (default 2h)
  --catalog C          default (2-5 h plates) | quick (40 min-4 h plates)
  --start ISO          simulated start time (default: now when publishing at speed 1, else 2026-01-05T06:00:00Z)
  --prefix P           prefix of every printer id (and of every order id with --orders)
  --orders             take orders (retained on printfarm/orders/{id}) and print every plate for one
  --trace FILE         write the trace as JSON lines to FILE ('-' for stdout) instead of publishing
See docs/simulator.md.
""";

var options = new SimulationOptions { Duration = null };
string host = "localhost", trace = string.Empty;
string? username = null, password = null;
var port = 1883;
var speed = 1.0;
DateTimeOffset? start = null;
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--help" or "-h":
                Console.WriteLine(Usage);
                return 0;
            case "--host": host = Next(); break;
            case "--port": port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--username": username = Next(); break;
            case "--password": password = Next(); break;
            case "--printers": options.Printers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--mix": options.Mix = FormatMix.Parse(Next()); break;
            case "--speed": speed = double.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--seed": options.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--duration": options.Duration = SimDuration.Parse(Next()); break;
            case "--scenario": options.Scenario = SimDuration.ParseScenario(Next()); break;
            case "--drop-after": options.DropAfter = SimDuration.Parse(Next()) ?? TimeSpan.Zero; break;
            case "--catalog": options.Catalog = Next() == "quick" ? PrintFarm.Simulator.Catalog.ToyCatalog.Quick : PrintFarm.Simulator.Catalog.ToyCatalog.Default; break;
            case "--start": start = DateTimeOffset.Parse(Next(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal); break;
            case "--prefix": options.PrinterPrefix = Next(); break;
            case "--orders": options.Orders = true; break;
            case "--trace": trace = Next(); break;
            default: throw new FormatException($"unknown option '{args[i]}'");
        }
    }

    // At real speed the simulated clock is the wall clock, so a worker with a real clock sees consistent times.
    var now = DateTimeOffset.UtcNow;
    options.Start = start ?? (speed == 1 && trace.Length == 0 ? new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero) : options.Start);
    options.Validate();
}
catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
{
    Console.Error.WriteLine($"printfarm-sim: {ex.Message}");
    Console.Error.WriteLine(Usage);
    return 64;
}

var simulation = new FarmSimulation(options);
if (trace.Length > 0)
{
    using var output = trace == "-" ? Console.OpenStandardOutput() : File.Create(trace);
    TraceWriter.Write(simulation, output);
    return 0;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"printfarm-sim: {options.Printers} printers ({options.Mix}), seed {options.Seed}, {speed}x, {options.Scenario}, publishing to {host}:{port}"));
try
{
    await using var publisher = await MqttPublisher.ConnectAsync(host, port, username, password, cts.Token);
    var runner = new SimulationRunner(simulation, (m, ct) => publisher.PublishAsync(m, ct)) { Speed = speed };
    await runner.RunAsync(cancellationToken: cts.Token);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"printfarm-sim: done, {runner.Published} messages, {simulation.Truth.Jobs.Count} jobs"));
    return 0;
}
catch (OperationCanceledException)
{
    return 0;
}
catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or System.Net.Sockets.SocketException or MQTTnet.Adapter.MqttConnectingFailedException)
{
    Console.Error.WriteLine($"printfarm-sim: cannot publish to {host}:{port}: {ex.Message}");
    return 1;
}
