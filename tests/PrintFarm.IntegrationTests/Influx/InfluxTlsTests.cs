using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>InfluxDB over HTTPS with the farm CA (<c>Influx:CaFile</c>) and user/password from a file, against a real InfluxDB 1.x configured for TLS and authentication.</summary>
[Collection(ServicesCollection.Name)]
public sealed class InfluxTlsTests(ServicesFixture services)
{
    [Fact]
    public async Task With_the_farm_CA_and_the_password_file_jobs_are_written_over_HTTPS_and_without_the_CA_they_wait_in_the_spool()
    {
        var folder = ServerProcess.NewFolder("influx-tls");
        var pki = TestPki.Create(folder);
        await using var influx = await TlsInflux.StartAsync(pki);
        var database = "https_" + Guid.NewGuid().ToString("N");
        await influx.CreateDatabaseAsync(database);
        var passwordFile = Path.Combine(folder, "influx-password");
        await File.WriteAllTextAsync(passwordFile, influx.Password + "\n");
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Influx:Username"] = TlsInflux.Username;
        settings["PrintFarm:Influx:PasswordFile"] = passwordFile;
        settings["PrintFarm:Influx:CaFile"] = pki.CaFile;
        var printer = "https-" + Guid.NewGuid().ToString("N")[..6];
        var ts = new DateTimeOffset(2026, 8, 9, 9, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();

        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            await using var publisher = await TestPublisher.ConnectAsync(services.Mqtt);
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts, job_id = "https-1", outcome = "completed", print_time_s = 60, file = "yak.gcode" });
            var rows = await Eventually.Until(() => influx.QueryAsync("SELECT \"job_id\" FROM \"job\"", database), r => r.Count == 1, "the job over HTTPS");
            Assert.Equal("https-1", rows[0][1].GetString());
        }

        // Without the CA the system store does not trust the farm's certificate: nothing is written, all is spooled.
        settings.Remove("PrintFarm:Influx:CaFile");
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            await using var publisher = await TestPublisher.ConnectAsync(services.Mqtt);
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = ts + 60, job_id = "https-2", outcome = "completed", print_time_s = 60, file = "yak.gcode" });
            await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.influx.points.spooled")), n => n > 0, "the untrusted writes to be spooled");
            Assert.Equal(0, worker.Counter("printfarm.influx.points.written"));
        }

        Assert.Single(await influx.QueryAsync("SELECT \"job_id\" FROM \"job\"", database));
    }
}
