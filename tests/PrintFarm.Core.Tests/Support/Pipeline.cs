using System.Text;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;

namespace PrintFarm.Core.Tests.Support;

/// <summary>A <see cref="TelemetryProcessor"/> wired with the native adapter and default rules.</summary>
internal static class Pipeline
{
    public const string Farm = "farm-a";

    public static TelemetryProcessor Create(TelemetryProcessorOptions? options = null, KpiEngineOptions? kpis = null) =>
        new(
            [new NativeAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(kpis),
            new PointEncoder(Farm),
            options);

    public static InboundMessage Message(string json, DateTimeOffset receivedAt, string printer = Some.Printer) =>
        Message(Encoding.UTF8.GetBytes(json), receivedAt, $"printfarm/{printer}/event");

    public static InboundMessage Message(byte[] payload, DateTimeOffset receivedAt, string topic = "printfarm/p1/event") =>
        new(topic, payload, Retained: false, receivedAt);

    /// <summary>Every <see cref="RejectReasons"/> code.</summary>
    public static IReadOnlySet<string> ReasonCodes { get; } = typeof(RejectReasons)
        .GetFields()
        .Where(f => f.IsLiteral)
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);
}
