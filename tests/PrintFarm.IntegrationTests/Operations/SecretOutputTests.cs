using System.Diagnostics;
using System.Globalization;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>
/// Issue 18 item 13: a distinct secret in every secret-bearing setting — passwords and tokens, a URL's user-info and
/// its <c>?u=…&amp;p=…</c>, a Slack webhook's secret path, the webhook's <c>Authorization</c> header, the embedded
/// broker's shared and per-printer passwords — appears in none of the worker's outputs: <c>--check-config</c> (valid and
/// not), the banner and every log line of a run (HttpClient's request logging switched on), a refused configuration's
/// message, and the <c>/healthz</c> and <c>/readyz</c> JSON. The worker runs as a process.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SecretOutputTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task A_secret_in_every_secret_bearing_setting_appears_in_no_output()
    {
        var secrets = Enumerable.Range(0, 10).Select(i => $"Zq{i}x" + Guid.NewGuid().ToString("N")[..20]).ToArray();
        var database = "secret_out_" + Guid.NewGuid().ToString("N")[..8];
        await services.Influx.CreateDatabaseAsync(database);
        var influx = new Uri(services.Influx.Url);
        var healthPort = ServerProcess.FreePort();
        var environment = WorkerProcess.Settings(services.Mqtt, services.Influx.Url, database, "secret-out-" + Guid.NewGuid().ToString("N")[..8]);
        environment["PrintFarm__Mqtt__Username"] = "farm";
        environment["PrintFarm__Mqtt__Password"] = secrets[0];
        environment["PrintFarm__Influx__Url"] = $"http://writer:{secrets[1]}@{influx.Authority}/?u=writer&p={secrets[2]}";
        environment["PrintFarm__Influx__Token"] = secrets[3];
        environment["PrintFarm__Influx__Password"] = secrets[4];
        environment["PrintFarm__Alerts__Webhook__Url"] = "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/" + secrets[5];
        environment["PrintFarm__Alerts__Webhook__Authorization"] = "Bearer " + secrets[6];
        environment["PrintFarm__Mqtt__EmbeddedBroker__Username"] = "farm";
        environment["PrintFarm__Mqtt__EmbeddedBroker__Password"] = secrets[7];
        environment["PrintFarm__Mqtt__EmbeddedBroker__Printers__prusa-01__Password"] = secrets[8];
        environment["PrintFarm__Health__Port"] = healthPort.ToString(CultureInfo.InvariantCulture);
        environment["PrintFarm__Health__IngestInterval"] = "00:00:00.2";
        environment["Serilog__MinimumLevel__Override__System.Net.Http.HttpClient"] = "Information";

        // --check-config, valid: every secret masked, and what is not secret (the hosts, the Slack workspace) still shown.
        var (code, output) = await RunWorkerAsync(environment, "--check-config");
        Assert.True(code == 0, output);
        AssertNoSecret(output, secrets);
        Assert.Contains("https://hooks.slack.com/services/***", output, StringComparison.Ordinal);
        Assert.Contains($"http://***@{influx.Authority}/?u=***&p=***", output, StringComparison.Ordinal);

        // A run: the banner, every log line (the InfluxDB URL is wrong on purpose: its failures are logged), /healthz, /readyz.
        await using (var worker = await WorkerProcess.StartAsync(environment))
        {
            await Eventually.Until(() => Task.FromResult(worker.LinesContaining("InfluxDB").Count), n => n > 0, "a line about the failing InfluxDB writes");
            var banner = Assert.Single(worker.LinesContaining("PrintFarm Telemetry"));
            Assert.Contains($"http://***@{influx.Authority}/?u=***&p=***", banner, StringComparison.Ordinal);
            foreach (var path in new[] { "/healthz", "/readyz" })
            {
                using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{healthPort}{path}"));
                var body = await response.Content.ReadAsStringAsync();
                Assert.Contains("\"status\"", body, StringComparison.Ordinal);
                AssertNoSecret(body, secrets);
            }

            await worker.StopAsync();
            AssertNoSecret(string.Join('\n', worker.Lines), secrets);
        }

        // The embedded broker on (its shared and printer passwords in force, the worker's own made at start), a client
        // refused for a wrong password: still no secret in any line.
        var brokerPort = ServerProcess.FreePort();
        environment["PrintFarm__Mqtt__EmbeddedBroker__Enabled"] = "true";
        environment["PrintFarm__Mqtt__EmbeddedBroker__Port"] = brokerPort.ToString(CultureInfo.InvariantCulture);
        await using (var worker = await WorkerProcess.StartAsync(environment))
        {
            using var client = new MQTTnet.MqttClientFactory().CreateMqttClient();
            var refused = await client.ConnectAsync(new MQTTnet.MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", brokerPort).WithCredentials("prusa-01", secrets[9]).Build());
            Assert.Equal(MQTTnet.MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
            await Eventually.Until(() => Task.FromResult(worker.LinesContaining("refused client").Count), n => n > 0, "the refusal logged");
            await worker.StopAsync();
            AssertNoSecret(string.Join('\n', worker.Lines), secrets);
        }

        environment.Remove("PrintFarm__Mqtt__EmbeddedBroker__Enabled");

        // A refused configuration names the bad setting, not its secret: in the fatal log line and in --check-config.
        environment["PrintFarm__Alerts__Webhook__Url"] = $"ftp://hook:{secrets[9]}@hooks.example.com/hooks/{secrets[5]}";
        (code, output) = await RunWorkerAsync(environment);
        Assert.True(code == 2, output);
        Assert.Contains("PrintFarm:Alerts:Webhook:Url is 'ftp://***@hooks.example.com/hooks/***'", output, StringComparison.Ordinal);
        AssertNoSecret(output, secrets);
        (code, output) = await RunWorkerAsync(environment, "--check-config");
        Assert.True(code == 2, output);
        AssertNoSecret(output, secrets);
    }

    private static void AssertNoSecret(string text, IEnumerable<string> secrets)
    {
        Assert.NotEmpty(text);
        foreach (var secret in secrets)
        {
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"secret {secret} printed:\n{text}");
        }
    }

    private static async Task<(int Code, string Output)> RunWorkerAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        var info = WorkerCommand.StartInfo(new Dictionary<string, string>(environment) { ["DOTNET_ENVIRONMENT"] = environment.GetValueOrDefault("DOTNET_ENVIRONMENT", "Production") }, arguments);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
