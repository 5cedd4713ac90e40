using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>
/// Printer events published to a real Mosquitto, through the real worker host, into a real InfluxDB 1.x, read back
/// with the same InfluxQL the dashboards use. Nothing is stubbed.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class NativeEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Day = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_trace_of_jobs_lands_as_exact_job_points_and_kpis_in_InfluxDB()
    {
        var database = "e2e_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        var trace = new NativeTrace("e2e" + Guid.NewGuid().ToString("N")[..6], Day);

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        // job: one point per ended job, the redelivered finish counted once.
        var jobs = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
            rows => rows.Count >= trace.Jobs.Count && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            "4 job points",
            describe: rows => rows.Format());
        Assert.Equal(trace.Jobs.Count, jobs.Count);
        foreach (var expected in trace.Jobs)
        {
            var row = Assert.Single(jobs, r => r.Time() == expected.End && r.Text("printer") == expected.Printer);
            Assert.Equal("test-farm", row.Text("farm"));
            Assert.Equal("native", row.Text("source"));
            Assert.Equal(expected.Outcome, row.Text("outcome"));
            Assert.Equal(expected.Toy, row.Text("toy"));
            Assert.Equal(expected.Material, row.Text("material"));
            Assert.Equal(expected.File, row.Text("file"));
            Assert.Equal(expected.Quantity, row.Number("toys"));
            Assert.Equal(expected.ActualPrintTime, row.Number("print_time_s"), 6);
            Assert.Equal(expected.ActualGrams, row.Number("filament_g"), 6);
            if (expected.JobId is not null)
            {
                Assert.Equal(expected.JobId, row.Text("job_id"));
            }

            if (expected.Outcome == "completed")
            {
                Assert.Equal(expected.ActualPrintTime / expected.Quantity, row.Number("print_time_per_toy_s"), 6);
            }
            else
            {
                Assert.False(row.TryGetValue("print_time_per_toy_s", out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number);
            }
        }

        // kpi, whole day for the farm.
        var day = NativeTrace.Expect(trace.Jobs);
        var farmDay = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"window\" = '1d' AND \"scope\" = 'farm'"),
            rows => rows.Count == 1 && rows[0].Number("jobs_completed") + rows[0].Number("jobs_failed") + rows[0].Number("jobs_cancelled") == trace.Jobs.Count,
            "the farm's 1d KPI point with all jobs",
            describe: rows => rows.Format());
        AssertKpis(day, farmDay[0]);
        Assert.Equal(Day, farmDay[0].Time());

        // kpi, hourly per printer. p1 printed A 08:00–09:30 and B 09:40–10:10, so it was busy
        // 60 min in the 08:00 window, 30 + 20 = 50 min in the 09:00 window and 10 min in the 10:00 window;
        // the 10:00 window holds only its failed castle.
        var p1 = trace.Prefix + "-p1";
        var hourly = await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT * FROM kpi WHERE \"window\" = '1h' AND \"scope\" = 'printer' AND \"printer\" = '{p1}'"),
            rows => rows.Count == 3 && rows.Any(r => r.Time() == Day.AddHours(10) && r.Number("jobs_failed") == 1),
            "three hourly windows for p1",
            describe: rows => rows.Format());
        var p1Jobs = trace.Jobs.Where(j => j.Printer == p1).ToList();
        var lastEvent = trace.Jobs.Max(j => j.End);
        foreach (var row in hourly)
        {
            var windowStart = row.Time();
            var busy = p1Jobs.Sum(j => Math.Max(0, (Min(j.End, windowStart.AddHours(1)) - Max(j.Start, windowStart)).TotalSeconds));
            Assert.Equal(busy, row.Number("printing_s"), 6);
            if (windowStart.AddHours(1) <= lastEvent.AddMinutes(-10))
            {
                Assert.Equal(busy / 3600, row.Number("utilization"), 9); // closed: over the whole hour
            }
            else
            {
                // Still running at the trace's end (issue 19 item 8): over its elapsed part, so more than over the hour.
                Assert.InRange(row.Number("utilization"), busy / 3600 + 1e-9, 1);
            }
        }

        var tenOClock = Assert.Single(hourly, r => r.Time() == Day.AddHours(10));
        Assert.Equal(1, tenOClock.Number("jobs_failed"));
        Assert.Equal(0, tenOClock.Number("toys_completed"));
        Assert.Equal(0, tenOClock.Number("material_efficiency"));

        // kpi per toy, grouped the way a dashboard panel groups it.
        var perToy = await services.Influx.QueryAsync(database, "SELECT last(\"toys_completed\") AS toys FROM kpi WHERE \"window\" = '1d' AND \"scope\" = 'toy' GROUP BY \"toy\"");
        Assert.Equal(trace.Jobs.Where(j => j.Toy == "dragon" && j.Outcome == "completed").Sum(j => j.Quantity), Assert.Single(perToy, r => r.Text("toy") == "dragon").Number("toys"));
        Assert.Equal(0, Assert.Single(perToy, r => r.Text("toy") == "castle").Number("toys"));

        // Status samples became printer points.
        var telemetry = await services.Influx.QueryAsync(database, $"SELECT \"nozzle_c\", \"state\" FROM printer WHERE \"printer\" = '{p1}' AND \"nozzle_c\" > 0");
        Assert.Equal(2, telemetry.Count);
        Assert.All(telemetry, r => Assert.Equal(210.2, r.Number("nozzle_c"), 6));

        // Each job's end leaves the printer's state at how it ended, not at printing.
        var ended = await services.Influx.QueryAsync(database, $"SELECT \"state\" FROM printer WHERE \"printer\" = '{p1}' ");
        var p1Ends = p1Jobs.Select(j => j.Outcome == "completed" ? "finished" : j.Outcome).ToList();
        Assert.Equal(p1Ends, ended.Where(r => r.Text("state") is "finished" or "failed" or "cancelled").Select(r => r.Text("state")));

        Assert.Equal(trace.Jobs.Count, worker.Counter("printfarm.jobs.ended"));
        Assert.Empty(worker.Logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Warning));
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static void AssertKpis(ExpectedKpis expected, Dictionary<string, System.Text.Json.JsonElement> row)
    {
        Assert.Equal(expected.JobsCompleted, row.Number("jobs_completed"));
        Assert.Equal(expected.JobsFailed, row.Number("jobs_failed"));
        Assert.Equal(expected.JobsCancelled, row.Number("jobs_cancelled"));
        Assert.Equal(expected.ToysCompleted, row.Number("toys_completed"));
        Assert.Equal(expected.PrintTime, row.Number("print_time_s"), 6);
        Assert.Equal(expected.AvgPrintTimePerToy, row.Number("avg_print_time_per_toy_s"), 6);
        Assert.Equal(expected.FilamentUsed, row.Number("filament_used_g"), 6);
        Assert.Equal(expected.FilamentWaste, row.Number("filament_waste_g"), 6);
        Assert.Equal(expected.MaterialEfficiency, row.Number("material_efficiency"), 9);
        Assert.Equal(expected.SuccessRate, row.Number("success_rate"), 9);
    }
}
