using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Mqtt;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// TLS and authentication against a real Mosquitto that the test configures: its own CA and server certificate
/// (made here with .NET's certificate APIs), a password file from <c>mosquitto_passwd</c>, anonymous access off.
/// Everything right: the worker connects and ingests. Each wrong setting: one log line per attempt naming the setting,
/// and the worker keeps retrying.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class MqttTlsTests(ServicesFixture services, ITestOutputHelper output)
{
    [Fact]
    public async Task With_the_farm_CA_a_client_certificate_and_the_password_the_worker_connects_over_TLS_and_ingests()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: true);
        var database = "tls_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = Settings(broker, database);
        var printer = "tls-" + Guid.NewGuid().ToString("N")[..6];

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var publisher = await broker.PublisherAsync())
        {
            await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = new DateTimeOffset(2026, 8, 5, 10, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), job_id = "tls-1", outcome = "completed", print_time_s = 900, file = "cat.gcode" });
        }

        var jobs = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "the job sent over the TLS session");
        Assert.Equal(printer, jobs[0].Text("printer"));
        Assert.Contains(worker.Logs.Entries, e => e.Message.StartsWith("Connected to MQTT broker localhost:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_CA_that_did_not_sign_the_broker_certificate_names_CaFile_and_the_worker_keeps_retrying()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: false);
        var settings = Settings(broker, "unused");
        settings["PrintFarm:Mqtt:CaFile"] = broker.Pki.OtherCaFile;
        await AssertRetriesNaming(settings, "PrintFarm:Mqtt:CaFile", "not signed by the CA");
    }

    [Fact]
    public async Task A_host_name_the_certificate_does_not_hold_names_Host_and_the_worker_keeps_retrying()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: false);
        var settings = Settings(broker, "unused");
        settings["PrintFarm:Mqtt:Host"] = "127.0.0.1"; // the certificate names localhost only
        await AssertRetriesNaming(settings, "PrintFarm:Mqtt:Host", "does not name '127.0.0.1'");
    }

    [Fact]
    public async Task A_wrong_password_names_the_refusal_and_the_password_settings_and_the_worker_keeps_retrying()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: false);
        var settings = Settings(broker, "unused");
        settings["PrintFarm:Mqtt:Password"] = "not-the-password";
        await AssertRetriesNaming(settings, "PrintFarm:Mqtt:Password", "the broker refused the connection");
    }

    [Fact]
    public async Task A_missing_client_certificate_names_ClientCertificateFile_and_the_worker_keeps_retrying()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: true);
        var settings = Settings(broker, "unused");
        settings.Remove("PrintFarm:Mqtt:ClientCertificateFile");
        settings.Remove("PrintFarm:Mqtt:ClientKeyFile");
        await AssertRetriesNaming(settings, "PrintFarm:Mqtt:ClientCertificateFile", "TLS");
    }

    [Fact]
    public async Task Turning_server_name_validation_off_is_logged_and_lets_an_address_connect()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: false);
        var settings = Settings(broker, "unused");
        settings["PrintFarm:Mqtt:Host"] = "127.0.0.1";
        settings["PrintFarm:Mqtt:ValidateServerName"] = "false";
        await using var worker = await WorkerHost.StartAsync(settings);
        Assert.Contains(worker.Logs.AtLeast(LogLevel.Warning), l => l.Contains("server-name validation is OFF", StringComparison.Ordinal) && l.Contains("PrintFarm:Mqtt:ValidateServerName", StringComparison.Ordinal));
    }

    private async Task AssertRetriesNaming(Dictionary<string, string?> settings, string setting, string reason)
    {
        await using var worker = await WorkerHost.StartAsync(settings, waitForSubscription: false);
        var failures = await Eventually.Until(
            () => Task.FromResult(FailureLines(worker)),
            lines => lines.Count >= 3,
            "three failed connection attempts",
            describe: lines => string.Join(Environment.NewLine, worker.Logs.AtLeast(LogLevel.Information)));

        output.WriteLine(failures[0]);

        // One line per attempt, each naming the setting and the reason; nothing worse than a warning; still running.
        Assert.All(failures, l => Assert.Contains(setting, l, StringComparison.Ordinal));
        Assert.All(failures, l => Assert.Contains(reason, l, StringComparison.Ordinal));
        var attempts = worker.Counter("printfarm.mqtt.connects[result=failed]");
        Assert.InRange(FailureLines(worker).Count, attempts - 1, attempts + 1);
        Assert.Empty(worker.Logs.AtLeast(LogLevel.Error));
        var mqtt = worker.Host.Services.GetServices<IHostedService>().OfType<MqttIngestionService>().Single();
        Assert.False(mqtt.ExecuteTask!.IsCompleted);
        Assert.False(mqtt.IsConnected);
    }

    private static List<string> FailureLines(WorkerHost worker) =>
        worker.Logs.Entries.Where(e => e.Category == typeof(MqttIngestionService).FullName && e.Message.StartsWith("MQTT connection to", StringComparison.Ordinal)).Select(e => e.Message).ToList();

    private Dictionary<string, string?> Settings(TlsBroker broker, string database)
    {
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Mqtt:Host"] = "localhost";
        settings["PrintFarm:Mqtt:Port"] = broker.TlsPort.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Mqtt:UseTls"] = "true";
        settings["PrintFarm:Mqtt:CaFile"] = broker.Pki.CaFile;
        settings["PrintFarm:Mqtt:ClientCertificateFile"] = broker.Pki.ClientCertificateFile;
        settings["PrintFarm:Mqtt:ClientKeyFile"] = broker.Pki.ClientKeyFile;
        settings["PrintFarm:Mqtt:Username"] = TlsBroker.Username;
        settings["PrintFarm:Mqtt:Password"] = broker.Password;
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        return settings;
    }
}
