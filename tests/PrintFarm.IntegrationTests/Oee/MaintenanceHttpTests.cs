using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Oee;

/// <summary>
/// The operator's maintenance switch over HTTP (<c>POST /maintenance/{printer}</c>) through the real worker, a real
/// Mosquitto and a real InfluxDB 1.x: a switch sent just before the worker stops is replayed from the journal, it shows
/// as <c>maintenance_s</c> and lowers planned time and availability; bad requests are refused, counted and kept.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class MaintenanceHttpTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Hour = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_switch_over_HTTP_survives_a_restart_shows_as_maintenance_and_lowers_planned_time_and_bad_ones_are_refused()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Alerts:Rules:StoppedReportingAfter"] = "00:00:00"; // sparse events: no offline by silence
        var printer = "mh" + Guid.NewGuid().ToString("N")[..6];
        var other = printer + "-now";
        var topic = $"printfarm/{printer}/event";
        using var http = new HttpClient();

        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // 08:00 idle, 08:05 printing (estimated at the 40 min it takes).
            await publisher.PublishJsonAsync(topic, new { type = "status", ts = Hour.ToString("O"), state = "idle" });
            await publisher.PublishJsonAsync(topic, new { type = "job_started", ts = Hour.AddMinutes(5).ToString("O"), job_id = "j1", toy = "owl", quantity = 1, estimated_time_s = 2700.0 });
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer_time WHERE \"printer\" = '{printer}' AND \"window\" = '1h'"),
                rows => rows.Count == 1 && rows[0].Number("idle_s") == 300,
                "the running hour's printer_time point, idle until the job started",
                describe: rows => rows.Format());

            // 08:15 maintenance on, over HTTP; the worker stops at once: the journal has it on disk.
            using var on = await PostAsync(http, worker, printer, $$"""{"maintenance": true, "ts": "{{Hour.AddMinutes(15):O}}"}""");
            Assert.Equal(HttpStatusCode.Accepted, on.Status);
            Assert.Equal($"printfarm/maintenance/{printer}", on.Body.GetProperty("topic").GetString());
        }

        settings["PrintFarm:Mqtt:ClientId"] = "worker-" + Guid.NewGuid().ToString("N");
        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // Refused with the reason, and (journaled as sent) counted and dead-lettered by the pipeline.
            var rejectedBefore = worker.Counter("printfarm.messages.rejected");
            using var notBool = await PostAsync(http, worker, printer, """{"maintenance": "yes"}""");
            Assert.Equal(HttpStatusCode.BadRequest, notBool.Status);
            Assert.Contains("'maintenance' must be true or false", notBool.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
            using var missing = await PostAsync(http, worker, printer, $$"""{"ts": "{{Hour.AddMinutes(20):O}}"}""");
            Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
            Assert.Contains("'maintenance' (true or false) is required", missing.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
            using var badTime = await PostAsync(http, worker, printer, """{"maintenance": true, "ts": "yesterday"}""");
            Assert.Equal(HttpStatusCode.BadRequest, badTime.Status);
            Assert.Contains("'ts' must be", badTime.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
            using var badPrinter = await PostAsync(http, worker, "a+b", """{"maintenance": true}""");
            Assert.Equal(HttpStatusCode.BadRequest, badPrinter.Status);
            using var get = await http.GetAsync(Url(worker, printer));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
            await worker.WaitForCounterAsync("printfarm.messages.rejected", rejectedBefore + 3, TimeSpan.FromSeconds(30));
            await AdapterEndToEnd.AssertDeadLetteredAsync(worker, $"printfarm/maintenance/{printer}", "invalid_field");
            Assert.Contains(worker.Logs.Entries, e => e.Message.Contains($"Maintenance switch over HTTP for printer {printer} refused", StringComparison.Ordinal));

            // 08:45 off; 08:50 the print completes; 10:00 an event closes the 08:00 hour.
            using var off = await PostAsync(http, worker, printer, $$"""{"maintenance": false, "ts": "{{Hour.AddMinutes(45):O}}"}""");
            Assert.Equal(HttpStatusCode.Accepted, off.Status);
            await publisher.PublishJsonAsync(topic, new { type = "job_finished", ts = Hour.AddMinutes(50).ToString("O"), job_id = "j1", outcome = "completed", toy = "owl", quantity = 1, print_time_s = 2700.0, estimated_time_s = 2700.0 });
            await publisher.PublishJsonAsync(topic, new { type = "status", ts = Hour.AddHours(2).ToString("O"), state = "idle" });

            var hour = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer_time WHERE \"window\" = '1h' AND \"printer\" = '{printer}' AND time = '{Hour:yyyy-MM-ddTHH:mm:ssZ}'"),
                rows => rows.Count == 1 && rows[0].Number("tracked_s") == 3600 && rows[0].Number("awaiting_bed_clear_s") == 600,
                "the closed 08:00 hour in printer_time",
                describe: rows => rows.Format());
            var row = hour[0];
            Assert.Equal(300, row.Number("idle_s"));
            Assert.Equal(900, row.Number("printing_s"));
            Assert.Equal(1800, row.Number("maintenance_s"));
            Assert.Equal(1800, row.Number("planned_s"));
            var kpi = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"printer\" = '{printer}' AND \"window\" = '1h' AND time = '{Hour:yyyy-MM-ddTHH:mm:ssZ}'"),
                rows => rows.Count == 1 && rows[0].OptionalNumber("availability") is not null && rows[0].OptionalNumber("jobs_completed") is 1,
                "the hour's kpi point with availability",
                describe: rows => rows.Format());
            Assert.Equal(0.5, kpi[0].Number("availability"), 9);

            // Without "ts" the switch happens now, by the worker's clock, and the answer says when.
            using var now = await PostAsync(http, worker, other, """{"maintenance": true}""");
            Assert.Equal(HttpStatusCode.Accepted, now.Status);
            var at = now.Body.GetProperty("ts").GetDateTimeOffset();
            Assert.InRange(at, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
            await publisher.PublishJsonAsync($"printfarm/{other}/event", new { type = "status", ts = at.AddSeconds(60).ToString("O"), state = "idle" });
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer_time WHERE \"window\" = '1h' AND \"printer\" = '{other}'"),
                rows => rows.Sum(r => r.Number("maintenance_s")) == 60,
                "a minute of maintenance from the switch's own time",
                describe: rows => rows.Format());
        }
    }

    private static Uri Url(WorkerHost worker, string printer) =>
        new(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!, "/maintenance/" + Uri.EscapeDataString(printer));

    private static async Task<Answer> PostAsync(HttpClient http, WorkerHost worker, string printer, string body)
    {
        using var response = await http.PostAsync(Url(worker, printer), new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, JsonDocument.Parse(text));
    }

    private sealed record Answer(HttpStatusCode Status, JsonDocument Document) : IDisposable
    {
        public JsonElement Body => Document.RootElement;

        public void Dispose() => Document.Dispose();
    }
}
