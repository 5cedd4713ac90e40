using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Ingestion.Native;

/// <summary>
/// Property: whatever bytes arrive, the adapter and the whole processor return a result — accepted, or rejected with a
/// known reason code — and never throw. Inputs come from a fixed-seed generator, so a failure reproduces exactly.
/// 20,000 cases each run in about a second.
/// </summary>
public sealed class NativeAdapterFuzzTests
{
    private const int Cases = 20_000;
    private const int Seed = 1234;

    private static readonly DateTimeOffset Received = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // Bytes that make mutations likely to stay JSON-ish (and so reach the deeper code paths).
    private static readonly byte[] Interesting =
        [.. Encoding.UTF8.GetBytes("{}[]\":,0123456789.-+eE \\ntrufalsn\r\n\t/u"), 0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xED, 0xEF, 0xF0, 0xFF];

    [Fact]
    public void Process_RandomAndMutatedPayloads_NeverThrowsAndAlwaysGivesAValidResult()
    {
        var adapter = new NativeAdapter();
        Assert.True(adapter.Topics[0].TryMatch("printfarm/p1/event", out var match));
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var events = new List<PrinterEvent>();

        foreach (var payload in Payloads(new Random(Seed), Cases))
        {
            events.Clear();
            var result = adapter.Process(new InboundMessage("printfarm/p1/event", payload, false, Received), match, events);

            AssertValid(result, payload);
            if (result.Accepted)
            {
                var e = Assert.Single(events);
                Assert.Equal("p1", e.Printer);
                Assert.Equal(e.Kind == EventKind.JobFinished, e.Outcome is not null);
            }
            else
            {
                Assert.Empty(events);
            }

            outcomes[result.Reason ?? "accepted"] = outcomes.GetValueOrDefault(result.Reason ?? "accepted") + 1;
        }

        // The generator really exercises both sides: valid payloads and several kinds of rejection.
        Assert.True(outcomes.GetValueOrDefault("accepted") > Cases / 20, Describe(outcomes));
        Assert.True(outcomes.GetValueOrDefault(RejectReasons.InvalidJson) > Cases / 20, Describe(outcomes));
        Assert.True(outcomes.Count >= 4, Describe(outcomes));
    }

    [Fact]
    public void Process_RandomAndMutatedMessagesThroughTheProcessor_NeverThrowsAndAlwaysGivesAValidResult()
    {
        var processor = Pipeline.Create(new TelemetryProcessorOptions { MaxPayloadBytes = 600 });
        var output = new ProcessorOutput();
        var random = new Random(Seed + 1);
        string[] topics = ["printfarm/p1/event", "printfarm/p2/event", "printfarm/p-3/event", "printfarm/p1/other", "printfarm/event", "x/p1/event"];
        var accepted = 0;
        var i = 0;

        foreach (var payload in Payloads(random, Cases))
        {
            var topic = topics[random.Next(topics.Length)];
            var receivedAt = Received.AddMinutes(random.Next(-600, 600));

            var result = processor.Process(new InboundMessage(topic, payload, random.Next(10) == 0, receivedAt), output);

            AssertValid(result, payload);
            accepted += result.Accepted ? 1 : 0;
            if (++i % 250 == 0)
            {
                processor.Flush(output);
                Assert.All(output.Lines, l => Assert.DoesNotContain('\n', l));
                output.Clear();
            }
        }

        processor.Flush(output);
        Assert.True(accepted > Cases / 20, $"only {accepted} accepted");
    }

    private static void AssertValid(AdapterResult result, byte[] payload)
    {
        if (result.Accepted)
        {
            Assert.Null(result.Reason);
            return;
        }

        Assert.False(string.IsNullOrEmpty(result.Reason), Hex(payload));
        Assert.True(Pipeline.ReasonCodes.Contains(result.Reason), $"unknown reason '{result.Reason}' for {Hex(payload)}");
        Assert.False(string.IsNullOrEmpty(result.Detail), Hex(payload));
    }

    /// <summary>A quarter random byte strings, three quarters mutated fixtures (a few untouched).</summary>
    private static IEnumerable<byte[]> Payloads(Random random, int count)
    {
        var seeds = NativeFixtures.All.Select(NativeFixtures.Bytes).ToArray();
        for (var i = 0; i < count; i++)
        {
            if (i % 4 == 0)
            {
                yield return RandomBytes(random);
                continue;
            }

            var payload = seeds[random.Next(seeds.Length)];
            var mutations = random.Next(8) == 0 ? 0 : random.Next(1, 4);
            for (var m = 0; m < mutations; m++)
            {
                payload = Mutate(random, payload);
            }

            yield return payload;
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 200)];
        if (random.Next(2) == 0)
        {
            random.NextBytes(bytes);
        }
        else
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = Interesting[random.Next(Interesting.Length)];
            }
        }

        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] input)
    {
        var list = new List<byte>(input);
        switch (random.Next(6))
        {
            case 0 when list.Count > 0: // flip bits of one byte
                var at = random.Next(list.Count);
                list[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when list.Count > 0: // replace a byte with an interesting one
                list[random.Next(list.Count)] = Interesting[random.Next(Interesting.Length)];
                break;
            case 2: // truncate
                list = list.Take(random.Next(list.Count + 1)).ToList();
                break;
            case 3: // insert random or interesting bytes
                var insertAt = random.Next(list.Count + 1);
                var n = random.Next(1, 5);
                for (var k = 0; k < n; k++)
                {
                    list.Insert(insertAt, random.Next(2) == 0 ? (byte)random.Next(256) : Interesting[random.Next(Interesting.Length)]);
                }

                break;
            case 4 when list.Count > 0: // delete a span
                var from = random.Next(list.Count);
                list.RemoveRange(from, Math.Min(list.Count - from, random.Next(1, 16)));
                break;
            default: // duplicate a span elsewhere
                if (list.Count > 0)
                {
                    var start = random.Next(list.Count);
                    var span = list.GetRange(start, Math.Min(list.Count - start, random.Next(1, 24)));
                    list.InsertRange(random.Next(list.Count + 1), span);
                }

                break;
        }

        return [.. list];
    }

    private static string Hex(byte[] payload) => Convert.ToHexString(payload);

    private static string Describe(Dictionary<string, int> outcomes) =>
        string.Join(", ", outcomes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
}
