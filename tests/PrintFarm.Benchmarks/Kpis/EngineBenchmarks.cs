using BenchmarkDotNet.Attributes;
using PrintFarm.Core.Events;
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
/// One operation = one event. See docs/benchmarks.md.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
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
