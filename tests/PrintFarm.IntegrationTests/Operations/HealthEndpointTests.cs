using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary><c>/healthz</c> and <c>/readyz</c> of the real worker over HTTP, and the <c>ingest</c> point it writes to a real InfluxDB.</summary>
[Collection(ServicesCollection.Name)]
public sealed class HealthEndpointTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Healthz_and_readyz_answer_200_with_each_check_and_readyz_turns_503_naming_the_broker_when_it_goes()
    {
        var broker = await MosquittoServer.StartAsync();
        await using var worker = await WorkerHost.StartAsync(Settings(broker, "health_" + Guid.NewGuid().ToString("N")));
        var url = worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!;
        Assert.Equal("127.0.0.1", url.Host); // loopback by default

        var (liveStatus, live) = await GetAsync(new Uri(url, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, liveStatus);
        Assert.Equal("Healthy", live.GetProperty("status").GetString());
        Assert.Equal("running", live.GetProperty("checks").GetProperty("loops").GetProperty("data").GetProperty("MqttIngestionService").GetString());

        var (readyStatus, ready) = await GetAsync(new Uri(url, "/readyz"));
        Assert.Equal(HttpStatusCode.OK, readyStatus);
        var pipeline = ready.GetProperty("checks").GetProperty("pipeline");
        Assert.True(pipeline.GetProperty("data").GetProperty("mqttConnected").GetBoolean());
        Assert.True(pipeline.GetProperty("data").TryGetProperty("spoolBytes", out _));

        await broker.DisposeAsync();
        var (downStatus, down) = await Eventually.Until(() => GetAsync(new Uri(url, "/readyz")), r => r.Status == HttpStatusCode.ServiceUnavailable, "readyz to report the lost broker");
        Assert.Contains("not connected to the MQTT broker", down.GetProperty("checks").GetProperty("pipeline").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.False(down.GetProperty("checks").GetProperty("pipeline").GetProperty("data").GetProperty("mqttConnected").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(new Uri(url, "/healthz"))).Status); // alive: it keeps retrying
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(new Uri(url, "/other"))).StatusCode);
        _ = downStatus;
    }

    [Fact]
    public async Task Every_interval_the_worker_writes_an_ingest_point_with_its_gauges_and_message_rate()
    {
        var database = "ingest_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        await using var worker = await WorkerHost.StartAsync(Settings(services.Mqtt, database));
        var printer = "ing-" + Guid.NewGuid().ToString("N")[..6];
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), job_id = "ing-1", outcome = "completed", print_time_s = 60, file = "bee.gcode" });
        }

        var rows = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM ingest"),
            r => r.Any(row => row.Number("messages_per_s") > 0),
            "an ingest point counting the message",
            describe: r => r.Format());
        var row = rows.First(r => r.Number("messages_per_s") > 0);
        Assert.Equal("test-farm", row.Text("farm"));
        Assert.True(row["mqtt_connected"].GetBoolean());
        Assert.Equal(0, row.Number("spool_bytes"));
        Assert.True(row.Number("watermark_lag_s") > 0);
        Assert.True(row.Number("open_windows") >= 1);
    }

    [Fact]
    public async Task A_health_port_already_in_use_is_logged_naming_the_setting_and_the_worker_still_ingests()
    {
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var settings = Settings(services.Mqtt, "unused");
        settings["PrintFarm:Health:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await using var worker = await WorkerHost.StartAsync(settings); // subscribed: ingestion runs
        var error = Assert.Single(worker.Logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Error));
        Assert.Contains("Health endpoints could not start on 127.0.0.1:" + port + " (PrintFarm:Health)", error, StringComparison.Ordinal);
        Assert.Null(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }

    private Dictionary<string, string?> Settings(MosquittoServer broker, string database)
    {
        var settings = WorkerHost.BaseSettings(broker);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Health:IngestInterval"] = "00:00:00.2";
        return settings;
    }
}
