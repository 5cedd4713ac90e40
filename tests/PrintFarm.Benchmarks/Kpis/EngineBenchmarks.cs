using BenchmarkDotNet.Attributes;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;

namespace PrintFarm.Benchmarks.Kpis;

/// <summary>
/// Canonical events (already parsed) through the engine: 1,000 printers each printing jobs back to back — a start,
/// 20 progress samples and a finish per job — in event-time order, with the KPI windows collected every 5,000 events
/// as the flush timer would. <c>JobsAndWindows</c> is the job tracker and KPI engine alone; <c>WithLineProtocol</c>
/// also encodes every <c>printer</c>, <c>job</c> and <c>kpi</c> point, i.e. the whole core after parsing.
/// <c>WithEveryKpi</c> is that processor with everything issue 21 added switched on, as the worker builds it with
/// <c>PrintFarm:Oee</c>, <c>PrintFarm:Orders</c> and <c>PrintFarm:Cost</c> enabled: the printer timeline (time in
/// state, OEE), failure reasons, 200 open orders filled first-in-first-out, and landed cost.
/// One operation = one event. See docs/benchmarks.md.
/// </summary>
[MemoryDiagnoser]
#pragma warning disable CA1852 // EveryKpiPartBenchmarks derives from it.
public class EngineBenchmarks
#pragma warning restore CA1852
{
    private const int Printers = 1000;
    private const int JobsPerPrinter = 5;
    private const int SamplesPerJob = 20;
    private const int CollectEvery = 5000;
    private const int EventCount = Printers * JobsPerPrinter * (SamplesPerJob + 2);

    private readonly List<KpiPoint> _points = [];
    private readonly List<EndedJob> _ended = [];
    private (PrinterEvent Event, DateTimeOffset ReceivedAt)[] _events = [];
    private JobTracker _jobs = null!;
    private KpiEngine _kpis = null!;
    private TelemetryProcessor _processor = null!;
    private TelemetryProcessor _everyKpi = null!;

    /// <summary>
    /// Which of issue 21's parts <c>WithEveryKpi</c> switches on: <c>all</c> here; <see cref="EveryKpiPartBenchmarks"/>
    /// runs each of <c>timeline</c>, <c>reasons</c>, <c>orders</c> and <c>cost</c> alone, to see what each costs.
    /// </summary>
    public virtual string Parts { get; set; } = "all";
    private ProcessorOutput _output = null!;

    [GlobalSetup]
    public void Generate()
    {
        var origin = new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero);
        var events = new List<PrinterEvent>(EventCount);
        for (var p = 0; p < Printers; p++)
        {
            var printer = $"printer-{p:D4}";
            var t = origin.AddSeconds(p * 13 % 3600);
            for (var j = 0; j < JobsPerPrinter; j++)
            {
                var id = $"{printer}-{j}";
                var minutes = 30 + (p + j) * 7 % 150;
                events.Add(Event(EventKind.JobStarted, printer, t, id, file: j % 2 == 0 ? "dragon_x4.gcode" : "castle.gcode"));
                for (var s = 1; s <= SamplesPerJob; s++)
                {
                    events.Add(Event(EventKind.JobProgress, printer, t.AddMinutes(minutes * s / (SamplesPerJob + 1.0)), id, progress: 100.0 * s / (SamplesPerJob + 1)));
                }

                var outcome = (p + j) % 7 == 0 ? JobOutcome.Failed : (p + j) % 11 == 0 ? JobOutcome.Cancelled : JobOutcome.Completed;
                events.Add(Event(EventKind.JobFinished, printer, t.AddMinutes(minutes), id, outcome: outcome, grams: 20 + j));
                t = t.AddMinutes(minutes + 4);
            }
        }

        _events = events.OrderBy(e => e.Timestamp).Select(e => (e, e.Timestamp.AddSeconds(1))).ToArray();
    }

    [IterationSetup]
    public void Fresh()
    {
        _jobs = new JobTracker(ToyNameRules.Default, MaterialCatalog.Default);
        _kpis = new KpiEngine();
        _processor = new TelemetryProcessor([new NativeAdapter()], new JobTracker(ToyNameRules.Default, MaterialCatalog.Default), new KpiEngine(), new PointEncoder("bench"));
        _output = new ProcessorOutput();
        _everyKpi = EveryKpiProcessor();
    }

    // The processor with the timeline, reasons, orders and cost on (PrintFarmHostingExtensions.CreateProcessor).
    private TelemetryProcessor EveryKpiProcessor()
    {
        var kpis = new KpiEngine();
        var processor = new TelemetryProcessor([new NativeAdapter()], new JobTracker(ToyNameRules.Default, MaterialCatalog.Default), kpis, new PointEncoder("bench"))
        {
            Timeline = On("timeline") ? new PrinterTimeline(new PrinterTimelineOptions { Windows = kpis.Windows }) : null,
            Reasons = On("reasons") ? new ReasonTracker(kpis.Windows) : null,
            Orders = On("orders") ? new Core.Orders.OrderBook(kpis.Windows) : null,
            Costs = On("cost") ? new Core.Cost.CostLedger(kpis.Windows, new Core.Cost.CostPrices(0.30, 0.50, 1.00)) : null,
        };
        if (!On("orders"))
        {
            return processor;
        }

        // Open orders for both toys, due over the benchmark's day: completed toys are allocated to them as they finish.
        for (var o = 0; o < 200; o++)
        {
            var due = _events[0].Event.Timestamp.AddHours(2 + o % 20).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            var payload = System.Text.Encoding.UTF8.GetBytes($$"""{"due":"{{due}}","lines":[{"toy":"{{(o % 2 == 0 ? "dragon" : "castle")}}","quantity":{{10 + o % 7}}}]}""");
            var placed = processor.Process(new InboundMessage($"printfarm/orders/order-{o:D3}", payload, Retained: true, _events[0].ReceivedAt), _output);
            if (!placed.Accepted)
            {
                throw new InvalidOperationException($"order refused: {placed.Detail}");
            }
        }

        _output.Clear();
        return processor;

        bool On(string part) => Parts == "all" || Parts == part;
    }

    [Benchmark(OperationsPerInvoke = EventCount)]
    public int JobsAndWindows()
    {
        var points = 0;
        for (var i = 0; i < _events.Length; i++)
        {
            var (e, receivedAt) = _events[i];
            _kpis.Observe(e.Source, e.Printer, e.Timestamp, receivedAt);
            _ended.Clear();
            var opened = _jobs.Apply(e, _ended);
            foreach (var job in _ended)
            {
                _kpis.AddJob(job);
            }

            if (opened is not null)
            {
                _kpis.JobOpened(e.Printer, opened.Start);
            }

            if (i % CollectEvery == CollectEvery - 1)
            {
                _points.Clear();
                _kpis.Collect(_points);
                points += _points.Count;
            }
        }

        return points;
    }

    [Benchmark(OperationsPerInvoke = EventCount)]
    public int WithLineProtocol()
    {
        var lines = 0;
        for (var i = 0; i < _events.Length; i++)
        {
            var (e, receivedAt) = _events[i];
            _processor.Apply(e, receivedAt, _output);
            if (i % CollectEvery == CollectEvery - 1)
            {
                _processor.Flush(_output);
                lines += _output.Lines.Count;
                _output.Clear();
            }
            else if (_output.Lines.Count > 1024)
            {
                lines += _output.Lines.Count;
                _output.Clear();
            }
        }

        return lines;
    }

    /// <summary>
    /// Lines and characters written per event by <see cref="WithLineProtocol"/> (<paramref name="parts"/> "none") or
    /// <see cref="WithEveryKpi"/> with those parts on: the output each variant pays to encode.
    /// </summary>
    public static (double Lines, double Characters) Volume(string parts)
    {
        var bench = new EngineBenchmarks { Parts = parts };
        bench.Generate();
        bench.Fresh();
        var processor = parts == "none" ? bench._processor : bench._everyKpi;
        long lines = 0, chars = 0;
        for (var i = 0; i < bench._events.Length; i++)
        {
            var (e, receivedAt) = bench._events[i];
            processor.Apply(e, receivedAt, bench._output);
            if (i % CollectEvery == CollectEvery - 1)
            {
                processor.Flush(bench._output);
            }

            lines += bench._output.Lines.Count;
            chars += bench._output.Lines.Sum(l => (long)l.Length);
            bench._output.Clear();
        }

        return (lines / (double)EventCount, chars / (double)EventCount);
    }

    [Benchmark(OperationsPerInvoke = EventCount)]
    public int WithEveryKpi()
    {
        var lines = 0;
        for (var i = 0; i < _events.Length; i++)
        {
            var (e, receivedAt) = _events[i];
            _everyKpi.Apply(e, receivedAt, _output);
            if (i % CollectEvery == CollectEvery - 1)
            {
                _everyKpi.Flush(_output);
                lines += _output.Lines.Count;
                _output.Clear();
            }
            else if (_output.Lines.Count > 1024)
            {
                lines += _output.Lines.Count;
                _output.Clear();
            }
        }

        return lines;
    }

    private static PrinterEvent Event(EventKind kind, string printer, DateTimeOffset at, string id, string? file = null, JobOutcome? outcome = null, double? grams = null, double? progress = null) => new()
    {
        Kind = kind,
        Printer = printer,
        Source = "native",
        Timestamp = at,
        JobId = id,
        File = file,
        Outcome = outcome,
        FilamentGrams = grams,
        FilamentSource = grams is null ? FilamentSource.Unknown : FilamentSource.Measured,
        ProgressPercent = progress,
        NozzleCelsius = kind == EventKind.JobProgress ? 210.4 : null,
    };
}

/// <summary>
/// <see cref="EngineBenchmarks.WithEveryKpi"/> with one of issue 21's parts on at a time: what each adds to the core's
/// per-event cost (compare with <see cref="EngineBenchmarks.WithLineProtocol"/> of the same run).
/// </summary>
public class EveryKpiPartBenchmarks : EngineBenchmarks
{
    /// <summary>The part switched on.</summary>
    [Params("timeline", "reasons", "orders", "cost")]
    public override string Parts { get; set; } = "timeline";
}
