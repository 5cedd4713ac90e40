using PrintFarm.Core.Alerts;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PrintFarm.Core.Kpis;
using PrintFarm.Demo.Board;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Publishing;
using PrintFarm.Simulator.Truth;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Mqtt;
using PrintFarm.Worker.Reporting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace PrintFarm.Demo;

/// <summary>
/// Runs the embedded broker, the worker and a simulated farm in one process. The worker runs on the simulation's
/// clock, so a 60× farm gives it hours of event time per real minute, receive-time formats included.
/// </summary>
internal sealed class DemoApp(DemoOptions options) : IDisposable
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(10);
    private readonly BoardState _board = new();
    private readonly SemaphoreSlim _received = new(0);
    private long _receivedCount;

    public void Dispose() => _received.Dispose();

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var plain = options.Plain || Console.IsOutputRedirected;
        var data = Environment.GetEnvironmentVariable("PrintFarm__DataFolder") is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(DataFolders.DefaultRoot(), "demo");

        // Each demo run simulates a new day from clean state: the last run's journal would be replayed into it (its jobs
        // counted again, hours before this run's start), and its checkpoint, spool and dead letters are that run's too.
        foreach (var stale in new[] { "journal", "checkpoint", "spool", "deadletter" })
        {
            var folder = Path.Combine(data, stale);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        Directory.CreateDirectory(data);
        var port = options.Port ?? (PortFree(1883) ? 1883 : FreePort());
        var influxUrl = Environment.GetEnvironmentVariable("PrintFarm__Influx__Url");
        var influx = !string.IsNullOrWhiteSpace(influxUrl) && await ReachableAsync(influxUrl, stop).ConfigureAwait(false);
        var runStamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var lineFile = Path.Combine(data, "influx", $"demo-{runStamp}.lp");

        // Start 12 h back, on the hour: the first hours of simulated time land in the past, where dashboards look.
        var now = DateTimeOffset.UtcNow;
        var start = options.Start ?? new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero).AddHours(-12);
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = options.Printers,
            Mix = options.Mix,
            Seed = options.Seed,
            Start = start,
            Duration = null,
            Scenario = options.Scenario,
            DropAfter = options.DropAfter,
            SmartPlugs = true,
            Orders = true,
        });
        var clock = new SimulationClock(start);

        var mix = string.Join(", ", simulation.Printers.GroupBy(p => p.Format).Select(g => $"{g.Count()} {g.Key}"));
        var sink = influx ? $"InfluxDB at {influxUrl}" : $"line protocol file {lineFile} (import: influx write --bucket printfarm --precision ms --file <it>)";
        Say(plain, $"PrintFarm demo: {options.Printers} printers ({mix}), seed {options.Seed}, {options.Speed.ToString(CultureInfo.InvariantCulture)}x, scenario {options.Scenario}, simulated start {start:yyyy-MM-ddTHH:mm:ssZ}");
        Say(plain, $"Warm-up: the first {options.WarmUp.TotalHours.ToString(CultureInfo.InvariantCulture)} h simulated at full speed, then {options.Speed.ToString(CultureInfo.InvariantCulture)}x");
        Say(plain, $"Embedded MQTT broker on port {port} (loopback only: to let real printers in, give them credentials, docs/operations.md \"Security\")");
        Say(plain, $"Writing to {sink}");
        Say(plain, $"Data folder {data} (log: demo.log)");

        var host = BuildHost(data, port, influx, lineFile, clock, simulation.Plugs.Settings());
        using var listener = Listen(host);
        await host.StartAsync(stop).ConfigureAwait(false);
        var mqtt = host.Services.GetServices<IHostedService>().OfType<MqttIngestionService>().Single();
        await mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30), stop).ConfigureAwait(false);

        using var run = CancellationTokenSource.CreateLinkedTokenSource(stop);
        if (options.For is { } bound)
        {
            run.CancelAfter(bound);
        }

        var lost = 0L;
        await using var publisher = await MqttPublisher.ConnectAsync("127.0.0.1", port, cancellationToken: stop).ConfigureAwait(false);
        var runner = new SimulationRunner(simulation, (m, ct) => publisher.PublishAsync(m, ct))
        {
            Speed = options.Speed,
            Clock = clock,
            FastForwardUntil = start + options.WarmUp,
            AwaitDelivered = async (published, _) =>
            {
                if (!await WaitReceivedAsync(published).ConfigureAwait(false))
                {
                    lost++;
                }
            },
        };

        var board = new ConsoleBoard(_board, simulation, clock.GetUtcNow, $"[bold]PrintFarm demo[/]: {options.Printers} printers ({Markup.Escape(mix)}) at {options.Speed.ToString(CultureInfo.InvariantCulture)}x, {options.Scenario}; writing to {Markup.Escape(sink)}");
        var running = RunSimulationAsync(runner, run.Token);
        if (plain)
        {
            while (!running.IsCompleted)
            {
                await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
                Console.WriteLine(board.PlainLine());
            }
        }
        else
        {
            await AnsiConsole.Live(board.Render()).AutoClear(false).StartAsync(async ctx =>
            {
                while (!running.IsCompleted)
                {
                    ctx.UpdateTarget(board.Render());
                    await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
                }

                ctx.UpdateTarget(board.Render());
            }).ConfigureAwait(false);
        }

        await running.ConfigureAwait(false);

        // Everything published has reached the worker; stopping drains it and writes the windows' final state.
        await WaitReceivedAsync(runner.Published).ConfigureAwait(false);
        var until = runner.SimulatedTime ?? start;
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        host.Dispose();

        if (!PrintFinal(plain, simulation, until, runner.Published, lost, influx ? null : lineFile))
        {
            Console.Error.WriteLine("demo: the KPIs the worker wrote differ from the simulator's ground truth (rows marked 'differs' above); see demo.log");
            return GroundTruthDiffers;
        }

        return 0;
    }

    private static async Task RunSimulationAsync(SimulationRunner runner, CancellationToken cancellationToken)
    {
        try
        {
            await runner.RunAsync(keepClockRunning: true, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or --for: a clean stop between two simulated seconds.
        }
    }

    /// <summary>The exit code of a run whose final KPIs differ from the ground truth.</summary>
    public const int GroundTruthDiffers = 3;

    // Prints the final table; false when any row differs from the ground truth.
    private bool PrintFinal(bool plain, FarmSimulation simulation, DateTimeOffset until, long published, long lost, string? lineFile)
    {
        var truth = simulation.Truth;
        var cut = until.AddSeconds(1);
        var rows = new List<(KpiRow Row, bool Matches)>();
        foreach (var window in new[] { "1h", "1d" })
        {
            var spec = WindowSpec.Parse(window);
            foreach (var (start, _, point) in _board.Kpis(window, "farm"))
            {
                rows.Add((new KpiRow(window, start, string.Empty, point), Matches(truth.Totals(spec, start, until: cut), point) && MatchesOee(simulation.OeeTruth.Counts(spec, start, until: cut), point)));
            }
        }

        var orderRows = FinalOrders(simulation, cut);
        var summary = string.Create(CultureInfo.InvariantCulture, $"simulated from {simulation.Options.Start:yyyy-MM-ddTHH:mm:ssZ} until {until:yyyy-MM-ddTHH:mm:ssZ}: {published} messages, {truth.Jobs.Count(j => j.Reported.End < cut)} jobs ended{(lost > 0 ? $", {lost} seconds not confirmed delivered" : string.Empty)}");
        var matching = rows.ToDictionary(r => r.Row, r => r.Matches);
        if (plain)
        {
            Console.WriteLine(summary);
            foreach (var (row, matches) in rows)
            {
                Console.WriteLine($"final {KpiTable.KeyValues(row)} {OeeKeyValues(row.Point)} ground_truth={(matches ? "match" : "differs")}");
            }

            foreach (var (text, matches) in orderRows)
            {
                Console.WriteLine($"final_orders {text} ground_truth={(matches ? "match" : "differs")}");
            }
        }
        else
        {
            AnsiConsole.Write(KpiTable.Build("Final farm KPIs", rows.Select(r => r.Row), extra: ("ground truth", row => matching[row] ? "[green]match[/]" : "[red]differs[/]")));
            var orders = new Table().Border(TableBorder.Rounded).Title("Final orders").AddColumns("window and orders completed", "ground truth");
            foreach (var (text, matches) in orderRows)
            {
                orders.AddRow(Markup.Escape(text), matches ? "[green]match[/]" : "[red]differs[/]");
            }

            AnsiConsole.Write(orders);
            AnsiConsole.MarkupLine(Markup.Escape(summary));
        }

        if (lineFile is not null)
        {
            Console.WriteLine($"Line protocol written to {lineFile}; import with: influx write --bucket printfarm --precision ms --file {lineFile}");
        }

        return rows.TrueForAll(r => r.Matches) && orderRows.TrueForAll(r => r.Matches);
    }

    // The order_kpi windows the worker wrote, and those in which the simulator's ground truth completes an order,
    // each with whether the two agree (counts exact, seconds to 1e-9 relative).
    private List<(string Text, bool Matches)> FinalOrders(FarmSimulation simulation, DateTimeOffset cut)
    {
        static bool Close(double a, double? b) => Math.Abs(a - (b ?? 0)) <= 1e-9 * Math.Max(1, Math.Abs(a));
        var rows = new List<(string, bool)>();
        foreach (var window in new[] { "1h", "1d" })
        {
            var spec = WindowSpec.Parse(window);
            var written = _board.OrderKpis(window).ToDictionary(w => w.Start, w => w.Point);
            foreach (var start in written.Keys.Union(simulation.OrdersTruth.WindowsWithOrders(spec, cut)).Order())
            {
                var truth = simulation.OrdersTruth.Totals(spec, start, cut);
                var p = written.GetValueOrDefault(start);
                var matches = p is not null
                    && truth.OrdersCompleted == (long)(p.Number("orders_completed") ?? 0)
                    && truth.OrdersOnTime == (long)(p.Number("orders_on_time") ?? 0)
                    && truth.Toys == (long)(p.Number("toys") ?? 0)
                    && Close(truth.PrintSeconds, p.Number("print_time_s"))
                    && Close(truth.LeadSeconds / Math.Max(1, truth.OrdersCompleted), p.Number("lead_time_per_order_s"));
                string F(string field) => p?.Number(field) is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "-";
                rows.Add((string.Create(CultureInfo.InvariantCulture, $"window={window} start={start:yyyy-MM-ddTHH:mm:ssZ} orders_completed={F("orders_completed")} orders_on_time={F("orders_on_time")} on_time_rate={F("on_time_rate")} toys={F("toys")} print_time_s={F("print_time_s")} print_time_per_toy_s={F("print_time_per_toy_s")}"), matches));
            }
        }

        return rows;
    }

    // The job-derived KPIs the worker wrote equal the simulator's ground truth (sums to 1e-9 relative).
    private static bool Matches(KpiTotals truth, LinePoint p)
    {
        static bool Close(double a, double? b) => Math.Abs(a - (b ?? 0)) <= 1e-9 * Math.Max(1, Math.Abs(a));
        return truth.JobsCompleted == (long)(p.Number("jobs_completed") ?? 0)
            && truth.JobsFailed == (long)(p.Number("jobs_failed") ?? 0)
            && truth.JobsCancelled == (long)(p.Number("jobs_cancelled") ?? 0)
            && truth.ToysCompleted == (long)(p.Number("toys_completed") ?? 0)
            && Close(truth.PrintTimeSeconds, p.Number("print_time_s"))
            && Close(truth.FilamentUsedGrams, p.Number("filament_used_g"))
            && Close(truth.FilamentWasteGrams, p.Number("filament_waste_g"));
    }

    // OEE's job-derived parts the worker wrote (the timeline's fields on the same kpi point) equal the simulator's truth.
    private static bool MatchesOee(OeeCounts truth, LinePoint p)
    {
        static bool Same(double? a, double? b) => a is null ? b is null : b is { } v && Math.Abs(a.Value - v) <= 1e-9;
        return truth.ToysStarted == (long)(p.Number("toys_started") ?? 0)
            && Same(truth.Quality, p.Number("quality"))
            && Same(truth.Performance, p.Number("performance"));
    }

    private static readonly string[] OeeFields = ["toys_started", "availability", "performance", "quality", "oee"];

    private static string OeeKeyValues(LinePoint p) => string.Join(' ', OeeFields
        .Select(f => string.Create(CultureInfo.InvariantCulture, $"{f}={(p.Number(f) is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "-")}")));

    /// <summary>The alert rules the demo's worker runs with: the defaults, judged over the short history a demo has.</summary>
    internal static AlertRuleOptions AlertRules { get; } = new()
    {
        RecentRange = TimeSpan.FromHours(1),
        MinJobs = 5, // one ordinary failure among three jobs of an hour is no story
        BaselineMinJobs = 5,
        BaselineMinFilamentGrams = 100,
    };

    private IHost BuildHost(string data, int port, bool influx, string lineFile, SimulationClock clock, IEnumerable<KeyValuePair<string, string?>> plugs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Demo",
        });

        // appsettings.json < the demo's settings < PrintFarm__* environment variables.
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PrintFarm:Farm"] = "demo",
            ["PrintFarm:DataFolder"] = data,
            ["PrintFarm:Mqtt:ClientId"] = "printfarm-demo",
            ["PrintFarm:Mqtt:EmbeddedBroker:Enabled"] = "true",
            ["PrintFarm:Mqtt:EmbeddedBroker:Port"] = port.ToString(CultureInfo.InvariantCulture),

            // Simulated time: at 60× these are about 0.5 s and 5 s of real time.
            ["PrintFarm:FlushInterval"] = "00:00:30",
            ["PrintFarm:CheckpointInterval"] = "00:05:00",

            // The demo's day is a few hours old: the drop rule judges the last closed hour against the hours before it
            // (a farm's defaults: 3 h against 7 days), so the drop's alert comes within two minutes of the live run.
            ["PrintFarm:Alerts:Rules:RecentRange"] = AlertRules.RecentRange.ToString("c", CultureInfo.InvariantCulture),
            ["PrintFarm:Alerts:Rules:MinJobs"] = AlertRules.MinJobs.ToString(CultureInfo.InvariantCulture),
            ["PrintFarm:Alerts:Rules:BaselineMinJobs"] = AlertRules.BaselineMinJobs.ToString(CultureInfo.InvariantCulture),
            ["PrintFarm:Alerts:Rules:BaselineMinFilamentGrams"] = AlertRules.BaselineMinFilamentGrams.ToString(CultureInfo.InvariantCulture),
        });

        // Landed cost: the simulated farm's smart plugs (every third printer) and example prices.
        builder.Configuration.AddInMemoryCollection(plugs.Concat(new Dictionary<string, string?>
        {
            ["PrintFarm:Cost:Enabled"] = "true",
            ["PrintFarm:Cost:EnergyPerKwh"] = "0.30",
            ["PrintFarm:Cost:MachinePerPrintingHour"] = "0.45",
            ["PrintFarm:Cost:LabourPerPlate"] = "0.80",
        }));
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration["PrintFarm:DataFolder"] = data;

        builder.Logging.ClearProviders()
            .AddProvider(new FileLoggerProvider(Path.Combine(data, "demo.log")))
            .AddFilter("Microsoft", LogLevel.Warning)
            .AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.AddPrintFarmTelemetry();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSingleton<ILineSink>(sp => new LineTap(influx ? sp.GetRequiredService<InfluxWriteClient>() : new FileLineSink(lineFile), _board));
        return builder.Build();
    }

    private MeterListener Listen(IHost host)
    {
        var meter = host.Services.GetRequiredService<PrintFarmInstrumentation>().Meter;
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "printfarm.mqtt.messages.received")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) =>
        {
            Interlocked.Add(ref _receivedCount, value);
            _received.Release();
        });
        listener.Start();
        return listener;
    }

    // Waits for the worker to have received `count` messages; false when they do not all arrive in time.
    private async Task<bool> WaitReceivedAsync(long count)
    {
        var deadline = DateTime.UtcNow + DeliveryTimeout;
        while (Interlocked.Read(ref _receivedCount) < count)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _received.WaitAsync(left).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private static void Say(bool plain, string text)
    {
        if (plain)
        {
            Console.WriteLine(text);
        }
        else
        {
            AnsiConsole.MarkupLine(Markup.Escape(text));
        }
    }

    private static async Task<bool> ReachableAsync(string url, CancellationToken cancellationToken)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            using var response = await http.GetAsync(new Uri(new Uri(url.TrimEnd('/') + "/"), "ping"), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            return false;
        }
    }

    private static bool PortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Any, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
