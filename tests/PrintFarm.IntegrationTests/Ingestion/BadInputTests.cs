using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Ingestion;

/// <summary>Garbage published between valid events: every bad message is counted, logged and kept; the valid ones land.</summary>
[Collection(ServicesCollection.Name)]
public sealed class BadInputTests(ServicesFixture services)
{
    [Fact]
    public async Task Bad_payloads_are_dead_lettered_and_valid_events_around_them_still_land()
    {
        var database = "bad_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        var printer = "bad-" + Guid.NewGuid().ToString("N")[..8];
        var topic = NativeTrace.Topic(printer);
        var start = new DateTimeOffset(2026, 2, 1, 10, 0, 0, TimeSpan.Zero);

        var random = new Random(42);
        var binary = new byte[4096];
        random.NextBytes(binary);
        var huge = new byte[10 * 1024 * 1024];
        Array.Fill(huge, (byte)'{');
        var bad = new (string Reason, byte[] Payload)[]
        {
            ("invalid_json", Encoding.UTF8.GetBytes("{\"type\": \"job_started\", \"ts\": ")),
            ("invalid_json", Encoding.UTF8.GetBytes("not json at all")),
            ("invalid_json", binary),
            ("invalid_json", [0xFF, 0xFE, 0x7B, 0x7D]),
            ("invalid_json", []),
            ("invalid_field", Encoding.UTF8.GetBytes("{\"type\":\"job_finished\",\"ts\":1769940000,\"outcome\":\"completed\",\"print_time_s\":\"long\"}")),
            ("invalid_field", Encoding.UTF8.GetBytes("{\"type\":\"job_started\",\"ts\":1769940000,\"quantity\":0}")),
            ("missing_field", Encoding.UTF8.GetBytes("{\"ts\":1769940000}")),
            ("missing_field", Encoding.UTF8.GetBytes("{\"type\":\"job_finished\",\"ts\":1769940000}")),
            ("unknown_type", Encoding.UTF8.GetBytes("{\"type\":\"job_exploded\",\"ts\":1769940000}")),
            ("oversize", huge),
        };

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await printers.PublishJsonAsync(topic, new { type = "job_started", ts = start.ToUnixTimeSeconds(), job_id = "good-1", file = "owl_x3.gcode" });
            foreach (var (_, payload) in bad)
            {
                await printers.PublishAsync(topic, payload);
            }

            await printers.PublishJsonAsync(topic, new { type = "job_finished", ts = start.AddHours(2).ToUnixTimeSeconds(), job_id = "good-1", outcome = "completed", filament_g = 42.0 });
        }

        var jobs = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
            rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            "the valid job to land",
            describe: rows => rows.Format());
        Assert.Equal("owl", jobs[0].Text("toy"));
        Assert.Equal(3, jobs[0].Number("toys"));
        Assert.Equal(7200, jobs[0].Number("print_time_s"));

        // Every bad message is counted by reason…
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.messages.rejected")), n => n == bad.Length, "every bad message counted");
        foreach (var reason in bad.Select(b => b.Reason).Distinct())
        {
            Assert.Equal(bad.Count(b => b.Reason == reason), worker.Counter($"printfarm.messages.rejected[reason={reason}]"));
        }

        // …kept with its topic, receive time and exact bytes (an oversize one with its size)…
        var file = Assert.Single(Directory.GetFiles(Path.Combine(worker.DataFolder, "deadletter"), "messages-*.jsonl"));
        var letters = File.ReadAllLines(file).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(bad.Length, letters.Count);
        for (var i = 0; i < bad.Length; i++)
        {
            Assert.Equal(topic, letters[i].GetProperty("topic").GetString());
            Assert.Equal(bad[i].Reason, letters[i].GetProperty("reason").GetString());
            if (bad[i].Reason == "oversize")
            {
                // Only its metadata: an oversize payload is skipped on the socket (issue 18 item 11).
                Assert.Equal(bad[i].Payload.Length, letters[i].GetProperty("size").GetInt64());
                Assert.False(letters[i].GetProperty("payload_kept").GetBoolean());
                Assert.False(letters[i].TryGetProperty("payload_base64", out _));
            }
            else
            {
                Assert.Equal(bad[i].Payload, letters[i].GetProperty("payload_base64").GetBytesFromBase64());
            }
            Assert.True(letters[i].GetProperty("received_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        // …and logged, one line per reason at most in this burst, saying why.
        var warnings = worker.Logs.AtLeast(LogLevel.Warning).ToList();
        Assert.Contains(warnings, w => w.Contains("invalid_json", StringComparison.Ordinal) && w.Contains(topic, StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("'print_time_s' must be a number", StringComparison.Ordinal));
        Assert.Single(warnings, w => w.Contains(": invalid_json:", StringComparison.Ordinal));
    }
}
