using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;
using PrintFarm.Simulator.Catalog;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Truth;

namespace PrintFarm.Simulator;

/// <summary>A simulated printer: its id and format.</summary>
/// <param name="Id">Printer id as the worker reports it.</param>
/// <param name="Format">Payload format.</param>
public sealed record SimPrinter(string Id, PrinterFormat Format);

/// <summary>
/// A farm of simulated printers. <see cref="Messages"/> is the whole trace in time order (ties: printer order, then
/// the order each printer sends), generated lazily so a farm of thousands of printers runs in constant memory per
/// printer. Every job whose end falls before the end of the trace is recorded in <see cref="Truth"/> with what the
/// worker should make of it.
/// </summary>
public sealed class FarmSimulation
{
    private readonly SimulationOptions _options;
    private readonly MaterialCatalog _materials = MaterialCatalog.Default;
    private readonly HashSet<(int Printer, long Ticks)> _malformed = [];

    /// <summary>Creates the farm; nothing is generated until <see cref="Messages"/> is enumerated.</summary>
    public FarmSimulation(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        var formats = options.Mix.Assign(options.Printers);
        var digits = Math.Max(2, options.Printers.ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        Printers = formats.Select((f, i) => new SimPrinter($"{options.PrinterPrefix}{Prefix(f)}-{(i + 1).ToString("D" + digits, System.Globalization.CultureInfo.InvariantCulture)}", f)).ToArray();
        Truth = new GroundTruth(Printers, Stop);
        OeeTruth = new OeeTruth(Truth);
        Times = new PrinterTimeTruth(Printers, Stop);
        Plugs = new SmartPlugs(Printers, options.SmartPlugs);
        Desk = options.Orders ? new OrderDesk(options) : null;
        OrdersTruth = new OrdersTruth(Desk, Truth);
    }

    /// <summary>The order desk, or <see langword="null"/> unless <see cref="SimulationOptions.Orders"/>.</summary>
    public OrderDesk? Desk { get; }

    /// <summary>The ground truth of orders and on-time delivery (no orders unless <see cref="SimulationOptions.Orders"/>).</summary>
    public OrdersTruth OrdersTruth { get; }

    /// <summary>The smart plugs and their energy truth (none unless <see cref="SimulationOptions.SmartPlugs"/>).</summary>
    public SmartPlugs Plugs { get; }

    /// <summary>The printers.</summary>
    public IReadOnlyList<SimPrinter> Printers { get; }

    /// <summary>Every job recorded so far (all of them once <see cref="Messages"/> has been enumerated to its end).</summary>
    public GroundTruth Truth { get; }

    /// <summary>The ground truth of OEE quality and performance, from the jobs of <see cref="Truth"/>.</summary>
    public OeeTruth OeeTruth { get; }

    /// <summary>The ground truth of printer time in each state and OEE availability, from each printer's schedule.</summary>
    public PrinterTimeTruth Times { get; }

    /// <summary>End of the trace, or <see langword="null"/> when it has none.</summary>
    public DateTimeOffset? Stop => _options.Duration is { } d ? _options.Start + d : null;

    /// <summary>The options.</summary>
    public SimulationOptions Options => _options;

    /// <summary>The trace, in time order. Enumerate it once.</summary>
    public IEnumerable<SimMessage> Messages()
    {
        var queue = new PriorityQueue<IEnumerator<SimMessage>, (long Ticks, int Printer, long Sequence)>();
        var sequences = new long[Printers.Count + 1];
        for (var i = 0; i <= Printers.Count; i++)
        {
            // The order desk's messages come last, as one more sender after the printers.
            var e = (i < Printers.Count ? RunPrinter(i) : Desk?.Messages() ?? []).GetEnumerator();
            if (e.MoveNext())
            {
                queue.Enqueue(e, (e.Current.Time.UtcTicks, i, sequences[i]++));
            }
        }

        DateTimeOffset? newestOctoPrint = null;
        var heard = new DateTimeOffset?[Printers.Count];
        var plugTopics = Plugs.Plugs.Select(p => p.Topic).ToHashSet(StringComparer.Ordinal);
        while (queue.TryDequeue(out var e, out var key))
        {
            // Which messages give the printer an event time of its own (its clock, and what silence is measured from);
            // the order desk, the last sender, is no printer.
            var m = e.Current;
            var printer = key.Printer < Printers.Count ? Printers[key.Printer] : null;
            var timed = printer is not null && !_malformed.Remove((key.Printer, m.Time.UtcTicks)) && !plugTopics.Contains(m.Topic) && !m.Topic.StartsWith("printfarm/maintenance/", StringComparison.Ordinal);
            if (printer?.Format == PrinterFormat.OctoPrint)
            {
                // OctoPrint's presence has no time of its own: the worker places it at the newest OctoPrint event time.
                if (m.Topic.EndsWith("/mqtt", StringComparison.Ordinal))
                {
                    Times.Device(printer!.Id, newestOctoPrint, m.Payload.Span.SequenceEqual("connected"u8) ? PrinterActivity.Idle : PrinterActivity.Offline);
                }

                timed &= OctoPrintEmitter.GivesEventTime(m);
                if (timed)
                {
                    newestOctoPrint = newestOctoPrint is { } n && n > m.Time ? n : m.Time;
                }
            }

            if (timed)
            {
                Times.Heard(printer!.Id, heard[key.Printer], m.Time);
                heard[key.Printer] = heard[key.Printer] is { } h && h > m.Time ? h : m.Time;
            }

            yield return e.Current;
            if (e.MoveNext())
            {
                queue.Enqueue(e, (e.Current.Time.UtcTicks, key.Printer, sequences[key.Printer]++));
            }
            else
            {
                e.Dispose();
            }
        }

        // Silent from its last message to the end of the trace.
        for (var i = 0; i < Printers.Count; i++)
        {
            if (Stop is { } end)
            {
                Times.Heard(Printers[i].Id, heard[i], end);
            }
        }
    }

    private static string Prefix(PrinterFormat format) => format switch
    {
        PrinterFormat.OctoPrint => "octo",
        PrinterFormat.Moonraker => "klipper",
        PrinterFormat.Bambu => "bambu",
        _ => "native",
    };

    private FormatEmitter Emitter(SimPrinter printer) => printer.Format switch
    {
        PrinterFormat.OctoPrint => new OctoPrintEmitter(printer.Id, _options.CadenceFactor),
        PrinterFormat.Moonraker => new MoonrakerEmitter(printer.Id, _options.CadenceFactor, _options.Start.AddHours(-3)),
        PrinterFormat.Bambu => new BambuEmitter(printer.Id, _options.CadenceFactor),
        _ => new NativeEmitter(printer.Id, _options.CadenceFactor),
    };

    // One printer's life: hello, then jobs separated by idle gaps, with the odd flap and malformed message.
    private IEnumerable<SimMessage> RunPrinter(int index)
    {
        var printer = Printers[index];
        var emitter = Emitter(printer);
        var random = new Random(unchecked((_options.Seed * 7919) + (index * 104729) + 17));
        var stop = Stop ?? DateTimeOffset.MaxValue;
        var t = _options.Start;
        foreach (var m in emitter.Hello(t))
        {
            yield return m;
        }

        if (printer.Format != PrinterFormat.OctoPrint)
        {
            Times.Device(printer.Id, t, PrinterActivity.Idle);
        }

        Plugs.Begin(printer.Id, t);

        // Printers do not all start their first job at the same second.
        t = t.AddSeconds(5 + random.Next(0, 600));
        for (var number = 1; t < stop;)
        {
            PlannedJob job;
            if (Desk is { } desk)
            {
                // Printing for orders: the desk's next plate, or a short wait when no order needs one.
                if (desk.Next(t) is not { } next)
                {
                    t = t.AddSeconds(IdleWaitSeconds + random.Next(0, IdleWaitSeconds));
                    continue;
                }

                job = Plan(index, number++, t, random, next.Toy, next.Order);
                desk.Planned(job);
            }
            else
            {
                job = Plan(index, number++, t, random);
            }

            var reported = emitter.Report(job, _materials);
            Truth.Add(job, reported, job.End < stop);
            Plugs.Planned(job, reported);
            foreach (var (at, state) in emitter.States(job))
            {
                Times.Device(printer.Id, at, state);
            }

            foreach (var m in emitter.Job(job))
            {
                if (m.Time >= stop)
                {
                    yield break;
                }

                // A plugged printer's readings come in time order between its own messages.
                foreach (var reading in Plugs.Until(printer.Id, m.Time))
                {
                    yield return reading;
                }

                yield return m;
            }

            t = job.End.AddSeconds(60 + random.Next(0, 540));
            if (random.NextDouble() < _options.MalformedRate && job.End.AddSeconds(30) < stop)
            {
                var malformed = emitter.Malformed(job.End.AddSeconds(30));
                _malformed.Add((index, malformed.Time.UtcTicks));

                yield return malformed;
            }

            if (random.NextDouble() < _options.FlapRate)
            {
                var down = job.End.AddSeconds(45);
                var up = down.AddSeconds(180 + random.Next(0, 420));
                if (emitter.Offline(down) is { } offline && up < stop)
                {
                    yield return offline;
                    yield return emitter.Online(up)!.Value;
                    if (printer.Format != PrinterFormat.OctoPrint)
                    {
                        Times.Device(printer.Id, down, PrinterActivity.Offline);
                        Times.Device(printer.Id, up, PrinterActivity.Idle);
                    }
                }

                if (up.AddSeconds(30) > t)
                {
                    t = up.AddSeconds(30);
                }
            }

            // An operator takes the printer off for maintenance before its next job (only when asked for: no random
            // draw otherwise, so the default trace stays as it was).
            if (_options.MaintenanceRate > 0 && random.NextDouble() < _options.MaintenanceRate)
            {
                var on = t;
                var off = on.AddSeconds(300 + random.Next(0, 1500));
                if (off < stop)
                {
                    foreach (var reading in Plugs.Until(printer.Id, on))
                    {
                        yield return reading;
                    }

                    yield return Maintenance(printer, on, true);
                    yield return Maintenance(printer, off, false);
                    Times.Maintenance(printer.Id, on, true);
                    Times.Maintenance(printer.Id, off, false);
                    t = off.AddSeconds(30);
                }
            }
        }
    }

    // The operator's switch on the worker's default maintenance topic (docs/kpis.md, "OEE"), not retained.
    private static SimMessage Maintenance(SimPrinter printer, DateTimeOffset at, bool on) =>
        new(at, $"printfarm/maintenance/{printer.Id}", Json.Object(w =>
        {
            w.WriteBoolean("maintenance", on);
            w.WriteString("ts", Json.Iso(at));
        }), 1, false);

    // A printer with nothing to print for any order asks the desk again after 3 to 6 minutes.
    private const int IdleWaitSeconds = 180;

    private PlannedJob Plan(int index, int number, DateTimeOffset start, Random random, Toy? given = null, string? order = null)
    {
        var toy = given ?? _options.Catalog.Pick(random);

        // Print time spreads ±25 % around the toy's mean.
        var plateSeconds = (int)(toy.PlateMinutes * 60 * (0.75 + (random.NextDouble() * 0.5)));
        var dropAt = _options.Start + _options.DropAfter;
        var struck = IsStruck(index);
        var failureRate = struck && start >= dropAt ? _options.DropFailureRate : _options.FailureRate;
        var roll = random.NextDouble();
        var outcome = roll < failureRate ? JobOutcome.Failed : roll < failureRate + _options.CancelRate ? JobOutcome.Cancelled : JobOutcome.Completed;

        // Failures happen late as often as early; a late failure wastes most of the plate.
        var stopPercent = outcome == JobOutcome.Completed ? 100 : random.Next(5, 96);
        int? pauseAt = null;
        var pauseSeconds = 0;
        if (random.NextDouble() < _options.PauseRate && stopPercent > 10)
        {
            pauseAt = random.Next(5, stopPercent - 2);
            pauseSeconds = 120 + random.Next(0, 900);
        }

        var job = new PlannedJob
        {
            Printer = Printers[index].Id,
            Number = number,
            Toy = toy,
            Start = start,
            HeatUpSeconds = 90 + random.Next(0, 330),
            PlateSeconds = plateSeconds,
            Outcome = outcome,
            StopPercent = stopPercent,
            PauseAtPercent = pauseAt,
            PauseSeconds = pauseSeconds,
            Order = order,
        };

        // The drop is a bad batch of filament: a print running on a struck printer when it arrives clogs and fails
        // within minutes, most of its plate wasted — so efficiency falls at once, not when the next jobs fail.
        if (struck && job.PrintingFrom < dropAt && job.End > dropAt.AddMinutes(10))
        {
            var failAt = dropAt.AddSeconds(60 + random.Next(0, 480));
            var percent = (int)Math.Clamp((failAt - job.PrintingFrom).TotalSeconds * 100 / plateSeconds, 1, 99);
            job = job with { Outcome = JobOutcome.Failed, StopPercent = percent, PauseAtPercent = null, PauseSeconds = 0 };
            return job with { Reason = PrintFarm.Simulator.Truth.SimReasons.For(job, index, Printers[index].Format, struck: true) };
        }

        return job with { Reason = PrintFarm.Simulator.Truth.SimReasons.For(job, index, Printers[index].Format, struck: false) };
    }

    /// <summary>In the efficiency-drop scenario, the printers the drop hits: the first half of the farm (at least one).</summary>
    public bool IsStruck(int index) => _options.Scenario == Scenario.EfficiencyDrop && index < Math.Max(1, Printers.Count / 2);
}
