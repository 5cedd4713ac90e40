using System.Text;
using System.Text.Json;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Publishing;

/// <summary>Writes a trace as JSON lines (<c>{"t":…,"topic":…,"qos":…,"retain":…,"payload":…}</c>), byte for byte the same for the same options.</summary>
public static class TraceWriter
{
    /// <summary>Writes every message of <paramref name="simulation"/> to <paramref name="output"/>.</summary>
    public static void Write(FarmSimulation simulation, Stream output)
    {
        ArgumentNullException.ThrowIfNull(simulation);
        ArgumentNullException.ThrowIfNull(output);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        foreach (var m in simulation.Messages())
        {
            w.WriteStartObject();
            w.WriteString("t", Json.Iso(m.Time));
            w.WriteString("topic", m.Topic);
            w.WriteNumber("qos", m.Qos);
            w.WriteBoolean("retain", m.Retain);
            w.WriteString("payload", Encoding.UTF8.GetString(m.Payload.Span));
            w.WriteEndObject();
            w.Flush();
            output.WriteByte((byte)'\n');
            w.Reset();
        }
    }
}
