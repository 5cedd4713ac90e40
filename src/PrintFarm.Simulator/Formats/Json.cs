using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace PrintFarm.Simulator.Formats;

/// <summary>Compact JSON payloads, written the same way on every run (property order as written, shortest round-trip numbers).</summary>
internal static class Json
{
    public static byte[] Object(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A payload cut short: what a printer's broken network stack or a buggy bridge sends now and then.</summary>
    public static byte[] Truncated(byte[] payload) => payload[..Math.Max(1, payload.Length / 2)];
}
