using BenchmarkDotNet.Running;
using PrintFarm.Benchmarks.Kpis;

// `--volume`: what the engine benchmarks write per event (lines, characters), for each of issue 21's parts; no timing.
if (args is ["--volume"])
{
    foreach (var parts in new[] { "none", "timeline", "reasons", "orders", "cost", "all" })
    {
        var (lines, chars) = EngineBenchmarks.Volume(parts);
        Console.WriteLine($"{parts,-9} {lines:F3} lines/event  {chars,6:F1} characters/event");
    }

    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
