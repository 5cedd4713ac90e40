using System.Text;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;

namespace PrintFarm.Core.Tests.Ingestion;

/// <summary>Fixture files, messages and a small farm harness shared by the printer adapter tests.</summary>
internal static class AdapterTestKit
{
    /// <summary>2026-01-05 08:00:00 UTC, the start of every trace; 1767600000 in epoch seconds.</summary>
    public static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1767600000);

    public static byte[] Fixture(string format, string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", format, name));

    public static IEnumerable<string> FixtureNames(string format) =>
        Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", format)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static InboundMessage Message(string topic, byte[] payload, DateTimeOffset at, bool retained = false) => new(topic, payload, retained, at);

    public static InboundMessage Message(string topic, string payload, DateTimeOffset at, bool retained = false) => new(topic, Encoding.UTF8.GetBytes(payload), retained, at);

    public static byte[] Json(object payload) => JsonSerializer.SerializeToUtf8Bytes(payload);

    /// <summary>
    /// Runs one message through one adapter, matching the topic as the processor would, and commits the adapter's
    /// staged state when the message is accepted (discards it otherwise), as the processor does.
    /// </summary>
    public static AdapterResult Process(IPrinterAdapter adapter, InboundMessage message, List<PrinterEvent> events)
    {
        foreach (var pattern in adapter.Topics)
        {
            if (pattern.TryMatch(message.Topic, out var match))
            {
                var result = adapter.Process(message, match, events);
                if (result.Accepted)
                {
                    adapter.Commit();
                }
                else
                {
                    adapter.Discard();
                }

                return result;
            }
        }

        throw new InvalidOperationException($"no pattern of {adapter.Source} matches {message.Topic}");
    }

    /// <summary>Runs one message through one adapter and returns its events; fails if it is rejected.</summary>
    public static List<PrinterEvent> Accept(IPrinterAdapter adapter, InboundMessage message)
    {
        var events = new List<PrinterEvent>();
        var result = Process(adapter, message, events);
        Assert.True(result.Accepted, $"{message.Topic} rejected: {result.Reason} {result.Detail}");
        return events;
    }
}

/// <summary>The whole pure pipeline around some adapters, recording what every message produced.</summary>
internal sealed class Farm
{
    private readonly ProcessorOutput _output = new();

    public Farm(IEnumerable<IPrinterAdapter> adapters, IReadOnlyDictionary<string, string>? printerMaterials = null)
    {
        Adapters = adapters.ToArray();
        Processor = new TelemetryProcessor(
            Adapters,
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default, printerMaterials),
            new KpiEngine(),
            new PointEncoder("test"));
    }

    public IPrinterAdapter[] Adapters { get; }

    public TelemetryProcessor Processor { get; }

    public List<EndedJob> Ended { get; } = [];

    public List<string> Lines { get; } = [];

    public List<AdapterResult> Results { get; } = [];

    public AdapterResult Send(InboundMessage message)
    {
        _output.Clear();
        var result = Processor.Process(message, _output);
        Results.Add(result);
        Ended.AddRange(_output.EndedJobs);
        Lines.AddRange(_output.Lines);
        return result;
    }

    /// <summary>Sends and requires acceptance.</summary>
    public void Accept(InboundMessage message)
    {
        var result = Send(message);
        Assert.True(result.Accepted, $"{message.Topic} rejected: {result.Reason} {result.Detail}");
    }

    public IEnumerable<string> PrinterLines => Lines.Where(l => l.StartsWith(Measurements.Printer + ",", StringComparison.Ordinal));

    public IEnumerable<string> JobLines => Lines.Where(l => l.StartsWith(Measurements.Job + ",", StringComparison.Ordinal));
}
