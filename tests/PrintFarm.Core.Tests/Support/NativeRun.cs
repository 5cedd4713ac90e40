using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;

namespace PrintFarm.Core.Tests.Support;

/// <summary>Runs one payload through a <see cref="NativeAdapter"/> on <c>printfarm/{printer}/event</c>.</summary>
internal static class NativeRun
{
    public static readonly DateTimeOffset ReceivedAt = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static (AdapterResult Result, List<PrinterEvent> Events) Process(string json, string printer = Some.Printer) =>
        Process(Encoding.UTF8.GetBytes(json), printer);

    public static (AdapterResult Result, List<PrinterEvent> Events) Process(byte[] payload, string printer = Some.Printer)
    {
        var adapter = new NativeAdapter();
        var topic = $"printfarm/{printer}/event";
        Assert.True(adapter.Topics[0].TryMatch(topic, out var match));
        var events = new List<PrinterEvent>();
        var result = adapter.Process(new InboundMessage(topic, payload, Retained: false, ReceivedAt), match, events);
        return (result, events);
    }

    /// <summary>Processes a payload that must be accepted and yield exactly one event.</summary>
    public static PrinterEvent Single(string json)
    {
        var (result, events) = Process(json);
        Assert.True(result.Accepted, $"rejected: {result.Reason}: {result.Detail}");
        return Assert.Single(events);
    }

    /// <summary>Processes a payload that must be rejected with <paramref name="reason"/> and yield no event.</summary>
    public static AdapterResult Rejected(string json, string reason) => Rejected(Encoding.UTF8.GetBytes(json), reason);

    public static AdapterResult Rejected(byte[] payload, string reason)
    {
        var (result, events) = Process(payload);
        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
        Assert.False(string.IsNullOrEmpty(result.Detail));
        Assert.Empty(events);
        return result;
    }
}
