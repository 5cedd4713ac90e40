using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Reliability;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>
/// Issue 19 item 4: the write API picked from the server's <c>/ping</c> (<c>ApiVersion</c> auto, the default), against
/// the real InfluxDB 1.6 (no <c>/api/v2/write</c>) and VictoriaMetrics (no version header, takes <c>/api/v2/write</c>);
/// and a v2 setting against 1.6 refused with the setting to change, readiness failing, nothing lost.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxApiDetectionTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task The_readmes_own_broker_line_with_only_the_url_writes_to_InfluxDB_1_6_through_v1()
    {
        // As the README runs it: the shipped appsettings.json (database and bucket "printfarm"), only Url set.
        await using var influx = await InfluxDbServer.StartAsync();
        await influx.CreateDatabaseAsync("printfarm");
        var settings = WorkerProcess.Settings(services.Mqtt, influx.Url, "unused", "api-detect-" + Guid.NewGuid().ToString("N")[..6]);
        settings.Remove("PrintFarm__Influx__ApiVersion");
        settings.Remove("PrintFarm__Influx__Database");
        settings["PrintFarm__Health__Port"] = "0";
        var trace = new NativeTrace("v1auto" + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero));
        await using var worker = await WorkerProcess.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        await ChaosChecks.WaitForJobsAsync(influx, "printfarm", trace.Jobs.Count, "the trace's jobs in database printfarm");
        Assert.Contains(worker.Lines, l => l.Contains("version 1.6", StringComparison.Ordinal) && l.Contains("writing through /write (ApiVersion auto)", StringComparison.Ordinal));
        Assert.Equal(0, ChaosChecks.SpooledBatches(worker.DataFolder));
    }

    [Fact]
    public async Task With_the_api_left_to_auto_a_worker_writes_to_VictoriaMetrics_through_v2()
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        var farm = "autofarm" + Guid.NewGuid().ToString("N")[..8];
        settings["PrintFarm:Farm"] = farm;
        settings["PrintFarm:Influx:Url"] = services.Victoria.Url;
        settings["PrintFarm:Influx:Bucket"] = "printfarm";
        var trace = new NativeTrace("v2auto" + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 3, 4, 0, 0, 0, TimeSpan.Zero));
        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        await Eventually.Until(
            () => services.Victoria.ExportAsync($"{{__name__=\"job_print_time_s\",farm=\"{farm}\"}}"),
            series => series.Count == trace.Jobs.Count,
            "every job in VictoriaMetrics");
        Assert.Contains(worker.Logs.Entries, e => e.Message.Contains("writing through /api/v2/write (ApiVersion auto)", StringComparison.Ordinal));
        Assert.Equal(0, worker.Counter("printfarm.influx.write.failures"));
    }

    [Fact]
    public async Task ApiVersion_v2_against_InfluxDB_1_6_keeps_the_data_and_readyz_names_the_setting_to_change()
    {
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "v2on1");
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v2";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Bucket"] = database;
        settings["PrintFarm:Influx:Database"] = database;
        var trace = new NativeTrace("v2on1" + Guid.NewGuid().ToString("N")[..6], new DateTimeOffset(2026, 3, 5, 0, 0, 0, TimeSpan.Zero));
        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (topic, payload) in trace.Messages())
            {
                await printers.PublishJsonAsync(topic, payload);
            }
        }

        var url = new Uri(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!, "/readyz");
        var (status, body) = await Eventually.Until(() => GetAsync(url), r => r.Status == HttpStatusCode.ServiceUnavailable, "readyz to fail while nothing lands");
        var influx = body.GetProperty("checks").GetProperty("influx");
        Assert.Equal("Unhealthy", influx.GetProperty("status").GetString());
        Assert.Contains("PrintFarm:Influx:ApiVersion to v1", influx.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        await Eventually.Until(() => Task.FromResult(ChaosChecks.SpooledBatches(worker.DataFolder)), n => n > 0, "the batches to be kept in the spool");
        Assert.Contains(worker.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("has no /api/v2/write", StringComparison.Ordinal));
        Assert.Equal(0, worker.Counter("printfarm.influx.points.rejected"));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
