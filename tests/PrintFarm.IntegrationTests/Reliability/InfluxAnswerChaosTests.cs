using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18 items 9 and 10: the real worker host (MQTT from the test Mosquitto, <c>/readyz</c> over HTTP) writing to a
/// fake InfluxDB that answers 400, 401, 404, 413 or 429 for a while. Nothing is dead-lettered that the database did
/// not name as bad, readiness fails while it refuses, and every job arrives once it takes writes again.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxAnswerChaosTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Theory]
    [InlineData(400, "{\"error\":\"bad request\"}", null, true)]
    [InlineData(401, "{\"error\":\"authorization failed\"}", null, true)]
    [InlineData(404, "{\"error\":\"database not found: \\\"printfarm\\\"\"}", null, true)]
    [InlineData(413, "{\"error\":\"Request Entity Too Large\"}", null, false)]
    [InlineData(429, "{\"error\":\"too many requests\"}", 20, false)]
    public async Task A_database_answering_with_a_4xx_loses_no_job_and_readiness_says_why(int status, string body, int? retryAfter, bool refusal)
    {
        await using var influx = FakeInfluxServer.Start();
        var failing = true;

        // 413 only for requests of more than one line: the worker must split. The others for every write while failing.
        influx.Respond = lines => failing && (status != 413 || lines.Count > 1) ? (status, body, retryAfter) : (204, string.Empty, null);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:Url"] = influx.Url;
        settings["PrintFarm:Influx:Database"] = "printfarm";
        settings["PrintFarm:Influx:MaxRetryWait"] = "00:00:05";
        var trace = new NativeTrace("ans" + status + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 3, 6, 0, 0, 0, TimeSpan.Zero));
        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        await Eventually.Until(() => Task.FromResult(influx.Statuses.Count(s => s == status)), n => n > 0, $"a {status} answer");
        if (refusal)
        {
            var url = new Uri(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!, "/readyz");
            var check = await Eventually.Until(() => InfluxCheckAsync(url), c => c.GetProperty("status").GetString() == "Unhealthy", "readyz's influx check to fail");
            Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), check.GetProperty("description").GetString(), StringComparison.Ordinal);
            await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n > 0, "the refused batches in the spool");
        }
        else if (status == 429)
        {
            // Retry-After 20 s exceeds MaxRetryWait: spooled at once, the checkpoint goes on meanwhile.
            await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n > 0, "the batch spooled at once");
        }

        failing = false;
        var jobs = await Eventually.Until(
            () => Task.FromResult(influx.Written.Where(l => l.StartsWith("job,", StringComparison.Ordinal)).Select(l => l[..l.LastIndexOf(' ')]).Distinct().Count()),
            n => n >= trace.Jobs.Count,
            "every job point written",
            TimeSpan.FromSeconds(60));
        Assert.Equal(trace.Jobs.Count, jobs);
        Assert.Equal(0, worker.Counter("printfarm.influx.points.rejected"));
        Assert.False(Directory.Exists(Path.Combine(worker.DataFolder, "deadletter")) && Directory.GetFiles(Path.Combine(worker.DataFolder, "deadletter"), "influx-rejected-*").Length > 0);
    }

    private static async Task<JsonElement> InfluxCheckAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("influx").Clone();
    }
}
