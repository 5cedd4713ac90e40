using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Oee;

/// <summary>
/// Printer time accounting and OEE through a real Mosquitto, the real worker and a real InfluxDB 1.x, on the 25-hour
/// day that ends daylight saving time in the farm's zone (Europe/Berlin, 2026-10-25), with the operator's maintenance
/// switch and a worker restart in the middle of the day.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OeeEndToEndTests(ServicesFixture services)
{
    // Local midnight of 2026-10-25 in Berlin (CEST, UTC+2); the day ends at 2026-10-25T23:00Z (CET, UTC+1): 25 hours.
    private static readonly DateTimeOffset Midnight = new(2026, 10, 24, 22, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_DST_day_of_a_printer_is_25_hours_in_states_and_its_OEE_is_written_on_its_kpi_series_across_a_restart()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:TimeZone"] = "Europe/Berlin";
        settings["PrintFarm:Alerts:Rules:StoppedReportingAfter"] = "00:00:00"; // sparse events: no offline by silence
        var printer = "oee" + Guid.NewGuid().ToString("N")[..6];
        var topic = $"printfarm/{printer}/event";
        var maintenance = $"printfarm/maintenance/{printer}";

        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // 00:00–02:00 idle, 02:00–10:00 printing 4 toys estimated at 7.2 h of the 8 h they took (through 03:00 CEST → 02:00 CET).
            await publisher.PublishJsonAsync(topic, new { type = "status", ts = Midnight.ToString("O"), state = "idle" });
            await publisher.PublishJsonAsync(topic, new { type = "job_started", ts = Midnight.AddHours(2).ToString("O"), job_id = "j1", toy = "dragon", quantity = 4, estimated_time_s = 25920.0 });
            for (var h = 3; h < 10; h++)
            {
                await publisher.PublishJsonAsync(topic, new { type = "job_progress", ts = Midnight.AddHours(h).ToString("O"), job_id = "j1", progress = (h - 2) * 12.5 });
            }

            await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer_time WHERE \"window\" = '1d' AND \"printer\" = '{printer}'"),
                rows => rows.Count == 1 && rows[0].Number("printing_s") > 0,
                "the running day's printer_time point",
                describe: rows => rows.Format());
        }

        // The restarted worker carries the day on from its checkpoint.
        settings["PrintFarm:Mqtt:ClientId"] = "worker-" + Guid.NewGuid().ToString("N");
        await using (var worker = await WorkerHost.StartAsync(settings))
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(topic, new { type = "job_finished", ts = Midnight.AddHours(10).ToString("O"), job_id = "j1", outcome = "completed", toy = "dragon", quantity = 4, print_time_s = 28800.0, estimated_time_s = 25920.0 });

            // 12:00–13:00 (elapsed) maintenance, set by the operator; awaiting bed clear otherwise until the day ends.
            await publisher.PublishJsonAsync(maintenance, new { maintenance = true, ts = Midnight.AddHours(12).ToString("O") });
            await publisher.PublishJsonAsync(maintenance, new { maintenance = false, ts = Midnight.AddHours(13).ToString("O") });

            // The next day's first event closes the DST day (past its end plus the allowed lateness).
            await publisher.PublishJsonAsync(topic, new { type = "status", ts = Midnight.AddHours(25).AddMinutes(30).ToString("O"), state = "idle" });

            var day = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM printer_time WHERE \"window\" = '1d' AND \"printer\" = '{printer}' AND time = '{Midnight:yyyy-MM-ddTHH:mm:ssZ}'"),
                rows => rows.Count == 1 && rows[0].Number("tracked_s") == 25 * 3600,
                "the whole 25-hour day in printer_time",
                describe: rows => rows.Format());
            var row = day[0];
            Assert.Equal(2 * 3600, row.Number("idle_s"));
            Assert.Equal(8 * 3600, row.Number("printing_s"));
            Assert.Equal(3600, row.Number("maintenance_s"));
            Assert.Equal(14 * 3600, row.Number("awaiting_bed_clear_s"));
            Assert.Equal(24 * 3600, row.Number("planned_s"));
            Assert.Equal(0, row.Number("offline_s"));

            // OEE = 8/24 × 0.9 × 1 on the printer's kpi series of that day, beside its existing fields.
            var kpi = await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"printer\" = '{printer}' AND \"window\" = '1d' AND time = '{Midnight:yyyy-MM-ddTHH:mm:ssZ}'"),
                rows => rows.Count == 1 && rows[0].OptionalNumber("oee") is not null && rows[0].OptionalNumber("jobs_completed") is 1,
                "the day's kpi point with OEE",
                describe: rows => rows.Format());
            Assert.Equal(8.0 / 24, kpi[0].Number("availability"), 9);
            Assert.Equal(0.9, kpi[0].Number("performance"), 9);
            Assert.Equal(1.0, kpi[0].Number("quality"), 9);
            Assert.Equal(8.0 / 24 * 0.9, kpi[0].Number("oee"), 9);
            Assert.Equal(4, kpi[0].Number("toys_completed"));
        }

        await AdapterEndToEnd.ClearRetainedAsync(services, maintenance);
    }
}
