using BenchmarkDotNet.Attributes;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.Benchmarks.LineProtocol;

/// <summary>
/// One <c>kpi</c>-shaped point (3 tags, 14 fields, a millisecond timestamp) to a line of line protocol, three ways: the
/// worker's own <see cref="LineBuilder"/> (what <c>PointEncoder</c> uses), and the official InfluxDB.Client's
/// immutable <see cref="PointData"/> (each <c>Tag</c>/<c>Field</c> copies the point) and its <see cref="PointData.Builder"/>,
/// each ending in <c>ToLineProtocol()</c>. One operation = one point. Why it is here: docs/benchmarks.md, "The official
/// InfluxDB.Client". Not run by the tests; <c>./build.sh bench '*PointEncoding*'</c>.
/// </summary>
[MemoryDiagnoser]
public class PointEncodingBenchmarks
{
    private static readonly DateTimeOffset Start = new(2026, 9, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly LineBuilder _line = new();

    [Benchmark(Baseline = true)]
    public string HandWritten() => _line.Measurement("kpi")
        .Tag("farm", "north")
        .Tag("scope", "farm")
        .Tag("window", "1h")
        .Field("jobs_completed", 12L)
        .Field("jobs_failed", 1L)
        .Field("jobs_cancelled", 0L)
        .Field("toys_completed", 48L)
        .Field("jobs_without_filament", 0L)
        .Field("print_time_s", 151_200.5)
        .Field("avg_print_time_per_toy_s", 3150.0104166666665)
        .Field("filament_used_g", 1204.75)
        .Field("filament_waste_g", 61.2)
        .Field("material_efficiency", 0.9492010790620461)
        .Field("success_rate", 0.9230769230769231)
        .Field("printing_s", 37_800.0)
        .Field("utilization", 0.875)
        .Field("printers_seen", 12L)
        .Build(Start);

    [Benchmark]
    public string ClientPointData() => PointData.Measurement("kpi")
        .Tag("farm", "north")
        .Tag("scope", "farm")
        .Tag("window", "1h")
        .Field("jobs_completed", 12L)
        .Field("jobs_failed", 1L)
        .Field("jobs_cancelled", 0L)
        .Field("toys_completed", 48L)
        .Field("jobs_without_filament", 0L)
        .Field("print_time_s", 151_200.5)
        .Field("avg_print_time_per_toy_s", 3150.0104166666665)
        .Field("filament_used_g", 1204.75)
        .Field("filament_waste_g", 61.2)
        .Field("material_efficiency", 0.9492010790620461)
        .Field("success_rate", 0.9230769230769231)
        .Field("printing_s", 37_800.0)
        .Field("utilization", 0.875)
        .Field("printers_seen", 12L)
        .Timestamp(Start, WritePrecision.Ms)
        .ToLineProtocol();

    [Benchmark]
    public string ClientPointBuilder() => PointData.Builder.Measurement("kpi")
        .Tag("farm", "north")
        .Tag("scope", "farm")
        .Tag("window", "1h")
        .Field("jobs_completed", 12L)
        .Field("jobs_failed", 1L)
        .Field("jobs_cancelled", 0L)
        .Field("toys_completed", 48L)
        .Field("jobs_without_filament", 0L)
        .Field("print_time_s", 151_200.5)
        .Field("avg_print_time_per_toy_s", 3150.0104166666665)
        .Field("filament_used_g", 1204.75)
        .Field("filament_waste_g", 61.2)
        .Field("material_efficiency", 0.9492010790620461)
        .Field("success_rate", 0.9230769230769231)
        .Field("printing_s", 37_800.0)
        .Field("utilization", 0.875)
        .Field("printers_seen", 12L)
        .Timestamp(Start, WritePrecision.Ms)
        .ToPointData()
        .ToLineProtocol();
}
