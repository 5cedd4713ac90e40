using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>The pipeline's gauges, read by a real <see cref="MeterListener"/> from the running worker.</summary>
[Collection(ServicesCollection.Name)]
public sealed class GaugeTests(ServicesFixture services)
{
    [Fact]
    public async Task The_gauges_report_the_connection_the_open_job_and_the_windows_of_the_running_worker()
    {
        var database = "gauges_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.2";
        await using var worker = await WorkerHost.StartAsync(settings);
        var printer = "g-" + Guid.NewGuid().ToString("N")[..6];
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_started", ts = DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds(), job_id = "g-1", file = "gnu.gcode" });
        }

        var meter = worker.Host.Services.GetRequiredService<PrintFarmInstrumentation>().Meter;
        var values = await Eventually.Until(() => Task.FromResult(Collect(meter)), v => v.GetValueOrDefault("printfarm.jobs.open") >= 1 && v.ContainsKey("printfarm.checkpoint.age") && v["printfarm.checkpoint.age"] > 0, "the open job and a checkpoint in the gauges");

        Assert.Equal(1, values["printfarm.mqtt.connected"]);
        Assert.Equal(0, values["printfarm.influx.spool.bytes"]);
        Assert.Equal(0, values["printfarm.influx.spool.oldest_age"]);
        Assert.InRange(values["printfarm.queue.inbound.depth"], 0, 10_000);
        Assert.InRange(values["printfarm.queue.lines.depth"], 0, 100_000);
        Assert.InRange(values["printfarm.watermark.lag"], 60, 3600); // the event was two minutes old
        Assert.InRange(values["printfarm.checkpoint.age"], 0, 60);
        Assert.True(values.ContainsKey("printfarm.kpi.windows.open"));
        Assert.Equal(0, values["printfarm.guard.folded"]);
    }

    private static Dictionary<string, double> Collect(Meter meter)
    {
        var values = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => values.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => values.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => values.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.Start();
        listener.RecordObservableInstruments();
        return new Dictionary<string, double>(values, StringComparer.Ordinal);
    }
}
