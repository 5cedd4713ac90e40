using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>The InfluxDB v2 write API (<c>/api/v2/write</c>, token auth) against a real server that speaks it: VictoriaMetrics.</summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxV2WriteTests(ServicesFixture services)
{
    [Fact]
    public async Task The_v2_write_path_delivers_job_and_kpi_points()
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        var farm = "v2farm" + Guid.NewGuid().ToString("N")[..8];
        settings["PrintFarm:Farm"] = farm;
        settings["PrintFarm:Influx:ApiVersion"] = "v2";
        settings["PrintFarm:Influx:Url"] = services.Victoria.Url;
        settings["PrintFarm:Influx:Org"] = "printfarm";
        settings["PrintFarm:Influx:Bucket"] = "printfarm";
        settings["PrintFarm:Influx:Token"] = "test-token";
        var trace = new NativeTrace("v2" + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero));

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        // VictoriaMetrics stores each numeric field as a series named measurement_field, tags as labels.
        var expected = NativeTrace.Expect(trace.Jobs);
        var efficiency = await Eventually.Until(
            () => services.Victoria.ExportAsync($"{{__name__=\"kpi_material_efficiency\",farm=\"{farm}\",window=\"1d\",scope=\"farm\"}}"),
            series => series.Count == 1 && series[0].Values.TryGetValue(trace.Day.ToUnixTimeMilliseconds(), out var v) && Math.Abs(v - expected.MaterialEfficiency) < 1e-9,
            "the farm's daily material efficiency",
            describe: series => string.Join("; ", series.Select(s => string.Join(",", s.Values))));
        Assert.Single(efficiency);

        var printTime = await services.Victoria.ExportAsync($"{{__name__=\"job_print_time_s\",farm=\"{farm}\"}}");
        Assert.Equal(trace.Jobs.Count, printTime.Count);
        foreach (var job in trace.Jobs)
        {
            var series = Assert.Single(printTime, s => s.Labels["printer"] == job.Printer && s.Values.ContainsKey(job.End.ToUnixTimeMilliseconds()));
            Assert.Equal(job.Outcome, series.Labels["outcome"]);
            Assert.Equal(job.ActualPrintTime, series.Values[job.End.ToUnixTimeMilliseconds()], 6);
        }

        Assert.True(worker.Counter("printfarm.influx.points.written") > 0);
        Assert.Equal(0, worker.Counter("printfarm.influx.write.failures"));
    }
}
