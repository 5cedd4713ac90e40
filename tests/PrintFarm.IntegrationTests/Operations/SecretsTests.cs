using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>
/// Secrets from files (docker and systemd secrets) reach the broker and the database, and no secret value appears in
/// any log line or in <c>--check-config</c> output, whether the connection works or is refused.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SecretsTests(ServicesFixture services)
{
    [Fact]
    public async Task Password_and_token_files_are_used_and_no_secret_appears_in_any_log_line()
    {
        await using var broker = await TlsBroker.StartAsync(requireClientCertificate: false);
        var folder = ServerProcess.NewFolder("secrets");
        var influxPassword = "influx-pw-" + Guid.NewGuid().ToString("N");
        var influxToken = "influx-token-" + Guid.NewGuid().ToString("N");
        var database = "secrets_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = Settings(broker, database, folder, mqttPassword: broker.Password, influxPassword, influxToken);
        var secrets = new[] { broker.Password, influxPassword, influxToken };

        // Right password from the file: connected, ingesting.
        await using (var worker = await WorkerHost.StartAsync(settings))
        {
            var printer = "sec-" + Guid.NewGuid().ToString("N")[..6];
            await using (var publisher = await broker.PublisherAsync())
            {
                await publisher.PublishJsonAsync(NativeTrace.Topic(printer), new { type = "job_finished", ts = new DateTimeOffset(2026, 8, 7, 9, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), job_id = "sec-1", outcome = "completed", print_time_s = 60, file = "ant.gcode" });
            }

            await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 1 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "the job, written with the password from the file");
            AssertNoSecret(worker.Logs.Entries.Select(e => e.Message), secrets);
        }

        // Wrong password in the file: refused, logged, retried; the wrong password is a secret too.
        var wrong = "wrong-" + Guid.NewGuid().ToString("N");
        settings = Settings(broker, database, folder, mqttPassword: wrong, influxPassword, influxToken);
        await using (var worker = await WorkerHost.StartAsync(settings, waitForSubscription: false))
        {
            await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.connects[result=failed]")), n => n >= 2, "two refused attempts");
            Assert.Contains(worker.Logs.AtLeast(LogLevel.Warning), l => l.Contains("PrintFarm:Mqtt:PasswordFile", StringComparison.Ordinal));
            AssertNoSecret(worker.Logs.Entries.Select(e => e.Message), [.. secrets, wrong]);
        }
    }

    [Fact]
    public async Task Check_config_prints_the_effective_settings_with_secrets_masked_and_exits_0_when_valid_and_2_when_not()
    {
        var folder = ServerProcess.NewFolder("check-config");
        var mqttPassword = "mqtt-pw-" + Guid.NewGuid().ToString("N");
        var influxToken = "influx-token-" + Guid.NewGuid().ToString("N");
        var tokenFile = Path.Combine(folder, "influx-token");
        await File.WriteAllTextAsync(tokenFile, influxToken + "\n");
        var environment = new Dictionary<string, string>
        {
            ["PrintFarm__DataFolder"] = folder,
            ["PrintFarm__Mqtt__Username"] = "farm",
            ["PrintFarm__Mqtt__Password"] = mqttPassword,
            ["PrintFarm__Influx__TokenFile"] = tokenFile,
            ["PrintFarm__Influx__Url"] = "https://admin:" + mqttPassword + "@influx.example:8086",
        };

        var (code, output) = await RunWorkerAsync(environment, "--check-config");
        Assert.Equal(0, code);
        Assert.Contains("Configuration is valid.", output, StringComparison.Ordinal);
        var json = output[output.IndexOf('{', StringComparison.Ordinal)..(output.LastIndexOf('}') + 1)];
        var config = JsonDocument.Parse(json).RootElement.GetProperty("PrintFarm");
        Assert.Equal(ConfigCheck.Mask, config.GetProperty("Mqtt").GetProperty("Password").GetString());
        Assert.Equal(ConfigCheck.Mask, config.GetProperty("Influx").GetProperty("Token").GetString());
        Assert.Equal(tokenFile, config.GetProperty("Influx").GetProperty("TokenFile").GetString());
        Assert.Equal("farm", config.GetProperty("Mqtt").GetProperty("Username").GetString());
        Assert.Equal(1883, config.GetProperty("Mqtt").GetProperty("Port").GetInt32()); // defaults are shown too
        AssertNoSecret([output], [mqttPassword, influxToken]);

        environment["PrintFarm__Mqtt__ProtocolVersion"] = "6";
        environment["PrintFarm__Mqtt__PasswordFile"] = Path.Combine(folder, "missing");
        (code, output) = await RunWorkerAsync(environment, "--check-config");
        Assert.Equal(2, code);
        Assert.Contains("PrintFarm:Mqtt:ProtocolVersion is '6': must be 5 or 3.1.1", output, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Mqtt:PasswordFile is", output, StringComparison.Ordinal);
        AssertNoSecret([output], [mqttPassword, influxToken]);
    }

    [Fact]
    public async Task With_LogFormat_json_every_log_line_is_a_compact_JSON_object()
    {
        var folder = ServerProcess.NewFolder("json-logs");
        var environment = new Dictionary<string, string>
        {
            ["PrintFarm__DataFolder"] = folder,
            ["PrintFarm__LogFormat"] = "json",
            ["PrintFarm__Mqtt__Port"] = ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture), // nobody listens: a warning follows
            ["PrintFarm__Mqtt__ReconnectDelay"] = "00:00:00.2",
            ["PrintFarm__Health__Port"] = "0",
        };

        var lines = await ReadWorkerLinesUntilAsync(environment, l => l.Contains("MQTT connection to", StringComparison.Ordinal));
        var warning = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal("Warning", warning.GetProperty("@l").GetString());
        Assert.StartsWith("MQTT connection to {Host}:{Port} failed", warning.GetProperty("@mt").GetString(), StringComparison.Ordinal);
        Assert.Equal("localhost", warning.GetProperty("Host").GetString());
        Assert.All(lines.Where(l => l.Length > 0), l => Assert.StartsWith("{\"@t\":", l, StringComparison.Ordinal));
    }

    private static void AssertNoSecret(IEnumerable<string> texts, IEnumerable<string> secrets)
    {
        var all = texts.ToList();
        Assert.NotEmpty(all);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(all, t => t.Contains(secret, StringComparison.Ordinal));
        }
    }

    private static ProcessStartInfo WorkerProcess(Dictionary<string, string> environment, params string[] arguments) =>
        WorkerCommand.StartInfo(environment, arguments);

    private static async Task<(int Code, string Output)> RunWorkerAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        using var process = Process.Start(WorkerProcess(environment, arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<List<string>> ReadWorkerLinesUntilAsync(Dictionary<string, string> environment, Func<string, bool> last)
    {
        using var process = Process.Start(WorkerProcess(environment))!;
        var lines = new List<string>();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                if (last(line))
                {
                    return lines;
                }
            }

            throw new InvalidOperationException("the worker ended before the expected line: " + string.Join('\n', lines));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private Dictionary<string, string?> Settings(TlsBroker broker, string database, string folder, string mqttPassword, string influxPassword, string influxToken)
    {
        string Secret(string name, string value)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, value + "\n");
            return path;
        }

        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Mqtt:Host"] = "localhost";
        settings["PrintFarm:Mqtt:Port"] = broker.TlsPort.ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm:Mqtt:UseTls"] = "true";
        settings["PrintFarm:Mqtt:CaFile"] = broker.Pki.CaFile;
        settings["PrintFarm:Mqtt:Username"] = TlsBroker.Username;
        settings["PrintFarm:Mqtt:PasswordFile"] = Secret("mqtt-password", mqttPassword);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Influx:Username"] = "writer";
        settings["PrintFarm:Influx:PasswordFile"] = Secret("influx-password", influxPassword);
        settings["PrintFarm:Influx:TokenFile"] = Secret("influx-token", influxToken);
        return settings;
    }
}
