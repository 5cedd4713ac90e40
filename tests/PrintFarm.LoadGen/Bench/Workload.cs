using System.Globalization;
using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.LineProtocol;

namespace PrintFarm.LoadGen.Bench;

/// <summary>
/// The benchmark's stream: native <c>status</c> messages, message <c>i</c> from printer <c>i % printers</c> with event
/// time <c>origin + (i / printers) s</c>, so every (printer, time) pair — every InfluxDB point — is distinct. The
/// same messages feed the broker, the worker and (as the line the worker would write) the raw InfluxDB client.
/// </summary>
internal sealed class Workload
{
    public const string Farm = "bench";
    public const string MarkerPrinter = "bench-marker";
    public const string ProbePrinter = "bench-probe";

    private readonly byte[][] _topics;

    public Workload(int printers, DateTimeOffset origin)
    {
        Printers = printers;
        Origin = origin;
        _topics = new byte[printers][];
        for (var p = 0; p < printers; p++)
        {
            _topics[p] = Encoding.ASCII.GetBytes(Topic(PrinterName(p)));
        }
    }

    public int Printers { get; }

    public DateTimeOffset Origin { get; }

    public static string PrinterName(int p) => "p" + p.ToString("D5", CultureInfo.InvariantCulture);

    public static string Topic(string printer) => $"printfarm/{printer}/event";

    public int PrinterOf(long index) => (int)(index % Printers);

    public byte[] TopicOf(long index) => _topics[PrinterOf(index)];

    public DateTimeOffset TimeOf(long index) => Origin.AddSeconds(index / Printers);

    public byte[] Payload(long index) => Payload(TimeOf(index), index);

    public static byte[] Payload(DateTimeOffset ts, long index)
    {
        var progress = (index % 1000) / 10.0;
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$"""{"type":"status","ts":{{ts.ToUnixTimeMilliseconds()}},"state":"printing","progress_pct":{{progress}},"nozzle_c":210.3,"nozzle_target_c":210,"bed_c":60.1,"bed_target_c":60}"""));
    }

    /// <summary>The line the worker writes for message <paramref name="index"/> (its own encoder, so the raw client writes the same points).</summary>
    public string Line(PointEncoder encoder, long index) => encoder.Printer(new PrinterEvent
    {
        Kind = EventKind.Status,
        Printer = PrinterName(PrinterOf(index)),
        Source = "native",
        Timestamp = TimeOf(index),
        State = "printing",
        ProgressPercent = (index % 1000) / 10.0,
        NozzleCelsius = 210.3,
        NozzleTargetCelsius = 210,
        BedCelsius = 60.1,
        BedTargetCelsius = 60,
    })!;

    /// <summary>
    /// Encodes messages [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) as PUBLISH packets,
    /// one list of chunks per connection; a printer always goes to the same connection (MQTT orders per connection).
    /// </summary>
    public List<Chunk>[] Encode(long first, long count, int connections, byte qos, int chunkMessages)
    {
        var result = new List<Chunk>[connections];
        var streams = new MemoryStream[connections];
        var inChunk = new int[connections];
        var sent = new long[connections];
        for (var c = 0; c < connections; c++)
        {
            result[c] = [];
            streams[c] = new MemoryStream();
        }

        for (var i = first; i < first + count; i++)
        {
            var c = PrinterOf(i) % connections;
            MqttPackets.Publish(streams[c], TopicOf(i), Payload(i), qos, (ushort)((sent[c] % 65535) + 1));
            sent[c]++;
            if (++inChunk[c] == chunkMessages)
            {
                result[c].Add(new Chunk(streams[c].ToArray(), inChunk[c]));
                streams[c].SetLength(0);
                inChunk[c] = 0;
            }
        }

        for (var c = 0; c < connections; c++)
        {
            if (inChunk[c] > 0)
            {
                result[c].Add(new Chunk(streams[c].ToArray(), inChunk[c]));
            }
        }

        return result;
    }
}

/// <summary>Pre-encoded PUBLISH packets.</summary>
internal sealed record Chunk(byte[] Bytes, int Messages);
