using System.Diagnostics;
using MQTTnet;
using MQTTnet.Protocol;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Deploy;

/// <summary>
/// Issue 18 item 15: the shipped stack is closed by default. The compose file has no default secret and refuses to
/// start (<c>docker-compose config</c>, which needs no engine) until the operator's <c>.env</c> sets each one; InfluxDB's
/// port is not published unless the override file asks; the shipped Mosquitto configuration, password file (made by the
/// shipped init script) and ACL run in the real <c>mosquitto</c>: no anonymous client, a printer only under its own topics.
/// </summary>
public sealed class ShippedStackSecurityTests
{
    private static readonly string[] Required = ["MQTT_WORKER_PASSWORD", "INFLUX_ADMIN_PASSWORD", "INFLUX_TOKEN", "GRAFANA_ADMIN_PASSWORD"];

    [Fact]
    public async Task Compose_refuses_to_start_until_env_sets_every_secret_and_names_the_missing_one()
    {
        var folder = ServerProcess.NewFolder("compose-env");
        var empty = Path.Combine(folder, "empty.env");
        await File.WriteAllTextAsync(empty, string.Empty);
        var (code, output) = await ComposeConfigAsync(empty);
        Assert.True(code != 0, output);
        Assert.Contains("set MQTT_WORKER_PASSWORD in .env", output, StringComparison.Ordinal);

        // .env.example as shipped has every secret empty: refused too. Each secret left out is named.
        (code, output) = await ComposeConfigAsync(Path.Combine(GrafanaFiles.RepoRoot, ".env.example"));
        Assert.True(code != 0, output);
        foreach (var missing in Required)
        {
            var env = Path.Combine(folder, missing + ".env");
            await File.WriteAllLinesAsync(env, Required.Where(r => r != missing).Select(r => $"{r}=secret-{r.ToLowerInvariant()}"));
            (code, output) = await ComposeConfigAsync(env);
            Assert.True(code != 0, output);
            Assert.Contains($"set {missing} in .env", output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("printfarm-dev", await File.ReadAllTextAsync(Path.Combine(GrafanaFiles.RepoRoot, "docker-compose.yml")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_env_the_compose_file_is_valid_and_InfluxDB_is_published_only_with_the_override_on_loopback()
    {
        var folder = ServerProcess.NewFolder("compose-env");
        var env = Path.Combine(folder, ".env");
        await File.WriteAllLinesAsync(env, Required.Select(r => $"{r}=secret-{r.ToLowerInvariant()}"));
        var (code, output) = await ComposeConfigAsync(env);
        Assert.True(code == 0, output);
        var influx = Service(output, "influxdb");
        Assert.DoesNotContain("ports:", influx, StringComparison.Ordinal);
        Assert.DoesNotContain("8086", string.Concat(Services(output).Select(s => Ports(s))), StringComparison.Ordinal);
        Assert.Contains("PrintFarm__Mqtt__Password: secret-mqtt_worker_password", Service(output, "worker"), StringComparison.Ordinal);
        Assert.Contains("MQTT_WORKER_PASSWORD: secret-mqtt_worker_password", Service(output, "mosquitto-init"), StringComparison.Ordinal);

        (code, output) = await ComposeConfigAsync(env, "docker-compose.influxdb-port.yml");
        Assert.True(code == 0, output);
        Assert.Contains("127.0.0.1:8086:8086", Service(output, "influxdb"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_shipped_Mosquitto_refuses_anonymous_clients_and_its_ACL_keeps_each_printer_to_its_own_topics()
    {
        var users = new Dictionary<string, string>
        {
            ["MQTT_WORKER_PASSWORD"] = "w-" + Guid.NewGuid().ToString("N"),
            ["MQTT_PRINTERS"] = "pA:a-secret pB:b-secret",
        };
        await using var broker = await MosquittoServer.StartShippedAsync(users);

        var (anonymous, _) = await ConnectAsync(broker, "anon", null, null);
        Assert.NotEqual(MqttClientConnectResultCode.Success, anonymous);
        var (wrong, _) = await ConnectAsync(broker, "wrong", "pA", "b-secret");
        Assert.NotEqual(MqttClientConnectResultCode.Success, wrong);

        var (worker, received) = await WorkerOnEverythingAsync(broker, users["MQTT_WORKER_PASSWORD"]);

        var (printerCode, printer) = await ConnectAsync(broker, "pa", "pA", "a-secret");
        Assert.Equal(MqttClientConnectResultCode.Success, printerCode);
        await printer!.PublishAsync(Message("printfarm/pB/event"));
        await printer.PublishAsync(Message("printfarm/alerts/x/printer/pB"));
        await printer.PublishAsync(Message("printfarm/pA/event"));

        // pA's own message arrives; the two sent before it on the same connection (another printer's topic, an alert) never do.
        await Eventually.Until(() => Task.FromResult(Snapshot(received)), r => r.Contains("printfarm/pA/event"), "pA's own message at the worker");
        Assert.Equal(["printfarm/pA/event"], Snapshot(received));

        // pA subscribed to # (Mosquitto grants the filter and checks read access per message) reads only its own topics:
        // pB's message, published first, never reaches it.
        var readByA = new List<string>();
        printer.ApplicationMessageReceivedAsync += e =>
        {
            lock (readByA)
            {
                readByA.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        await SubscribeAsync(printer, "#");
        var (pbCode, pb) = await ConnectAsync(broker, "pb", "pB", "b-secret");
        Assert.Equal(MqttClientConnectResultCode.Success, pbCode);
        await pb!.PublishAsync(Message("printfarm/pB/event"));
        await printer.PublishAsync(Message("printfarm/pA/event"));
        await Eventually.Until(() => Task.FromResult(Snapshot(readByA)), r => r.Contains("printfarm/pA/event"), "pA's own message back at pA");
        Assert.Equal(["printfarm/pA/event"], Snapshot(readByA));
        pb.Dispose();
        worker.Dispose();
        printer.Dispose();
    }

    [Fact]
    public async Task The_orders_operator_and_plug_users_publish_on_their_own_topics_only()
    {
        var users = new Dictionary<string, string>
        {
            ["MQTT_WORKER_PASSWORD"] = "w-" + Guid.NewGuid().ToString("N"),
            ["MQTT_SIMULATOR_PASSWORD"] = "s-secret",
            ["MQTT_ORDERS_PASSWORD"] = "o-secret",
            ["MQTT_OPERATOR_PASSWORD"] = "op-secret",
            ["MQTT_PRINTERS"] = "pA:a-secret",
            ["MQTT_PLUGS"] = "plugA:pa-secret shellyA:sa-secret",
        };
        await using var broker = await MosquittoServer.StartShippedAsync(users);
        var (worker, received) = await WorkerOnEverythingAsync(broker, users["MQTT_WORKER_PASSWORD"]);

        // Each user sends what it may not first and what it may last, on one connection: the last arriving proves the
        // first were refused, not late.
        (string User, string Password, string[] Refused, string Allowed)[] cases =
        [
            ("printfarm-orders", "o-secret", ["printfarm/maintenance/pA", "printfarm/pA/event"], "printfarm/orders/o-1"),
            ("printfarm-operator", "op-secret", ["printfarm/orders/o-2", "printfarm/alerts/x/printer/pA"], "printfarm/maintenance/pA"),
            ("printfarm-operator", "op-secret", ["printfarm/pA/event"], "printfarm/labels/pA/job-1"),
            ("printfarm-simulator", "s-secret", ["printfarm/maintenance/pA"], "printfarm/orders/sim-1"),
            ("pA", "a-secret", ["printfarm/orders/o-3", "printfarm/maintenance/pA", "tele/plugA/SENSOR"], "printfarm/pA/event"),
            ("plugA", "pa-secret", ["tele/plugB/SENSOR", "printfarm/orders/o-4"], "tele/plugA/SENSOR"),
            ("shellyA", "sa-secret", ["shellyB/status/switch:0"], "shellyA/status/switch:0"),
        ];
        foreach (var (user, password, refused, allowed) in cases)
        {
            var (code, client) = await ConnectAsync(broker, user, user, password);
            Assert.Equal(MqttClientConnectResultCode.Success, code);
            var before = Snapshot(received).Count;
            foreach (var topic in refused.Append(allowed))
            {
                await client!.PublishAsync(Message(topic));
            }

            var arrived = await Eventually.Until(() => Task.FromResult(Snapshot(received).Skip(before).ToList()), r => r.Contains(allowed), $"{user}'s message on {allowed} at the worker");
            Assert.Equal([allowed], arrived);
            client!.Dispose();
        }

        worker.Dispose();
    }

    [Fact]
    public async Task The_init_script_refuses_to_run_without_the_worker_password()
    {
        var folder = ServerProcess.NewFolder("init-passwd");
        var script = Path.Combine(GrafanaFiles.RepoRoot, "deploy", "mosquitto", "init-passwd.sh");
        var (code, output) = await MosquittoServer.RunInitScriptAsync(script, Path.Combine(folder, "passwd"), new Dictionary<string, string>(), throwOnFailure: false);
        Assert.NotEqual(0, code);
        Assert.Contains("MQTT_WORKER_PASSWORD", output, StringComparison.Ordinal);
        (code, output) = await MosquittoServer.RunInitScriptAsync(script, Path.Combine(folder, "passwd"), new Dictionary<string, string> { ["MQTT_WORKER_PASSWORD"] = "x1", ["MQTT_PRINTERS"] = "pA" }, throwOnFailure: false);
        Assert.Equal(2, code);
        Assert.Contains("'pA' has no password", output, StringComparison.Ordinal);
    }

    // The worker's user subscribed to #, and the topics it receives (lock the list to read it: Snapshot).
    private static async Task<(IMqttClient Worker, List<string> Received)> WorkerOnEverythingAsync(MosquittoServer broker, string password)
    {
        var (code, worker) = await ConnectAsync(broker, "worker", "printfarm-worker", password);
        Assert.Equal(MqttClientConnectResultCode.Success, code);
        var received = new List<string>();
        worker!.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(worker, "#"));
        return (worker, received);
    }

    private static List<string> Snapshot(List<string> list)
    {
        lock (list)
        {
            return [.. list];
        }
    }

    private static MqttApplicationMessage Message(string topic) => new MqttApplicationMessageBuilder()
        .WithTopic(topic)
        .WithPayload("{}")
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .Build();

    private static async Task<MqttClientSubscribeResultCode> SubscribeAsync(IMqttClient client, string filter)
    {
        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return Assert.Single(result.Items).ResultCode;
    }

    private static async Task<(MqttClientConnectResultCode Code, IMqttClient? Client)> ConnectAsync(MosquittoServer broker, string clientId, string? user, string? password)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId(clientId + "-" + Guid.NewGuid().ToString("N")[..6])
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder.WithCredentials(user, password);
        }

        var result = await client.ConnectAsync(builder.Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            return (result.ResultCode, null);
        }

        return (result.ResultCode, client);
    }

    // docker-compose config: validates and interpolates the file without an engine. The shell's variables are removed,
    // so only the env file counts.
    internal static Task<(int Code, string Output)> ComposeConfigAsync(string envFile, params string[] overrides) => ComposeConfigAsync(envFile, [], overrides);

    internal static async Task<(int Code, string Output)> ComposeConfigAsync(string envFile, string[] profiles, params string[] overrides)
    {
        var compose = ServerProcess.Find("docker-compose") ?? throw new InvalidOperationException("docker-compose is not installed (apt-get install docker-compose)");
        var start = new ProcessStartInfo(compose) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = GrafanaFiles.RepoRoot };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MQTT_", StringComparison.Ordinal) || k.StartsWith("INFLUX_", StringComparison.Ordinal) || k.StartsWith("GRAFANA_", StringComparison.Ordinal) || k.StartsWith("COMPOSE_", StringComparison.Ordinal) || k.StartsWith("NATS_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        if (profiles.Length > 0)
        {
            start.Environment["COMPOSE_PROFILES"] = string.Join(',', profiles);
        }

        foreach (var argument in new[] { "--env-file", envFile, "-f", "docker-compose.yml" }.Concat(overrides.SelectMany(o => new[] { "-f", o })).Append("config"))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    // The block of one service in docker-compose config's output (services at two spaces, their keys deeper).
    internal static string Service(string config, string name)
    {
        var block = Services(config).FirstOrDefault(s => s.StartsWith($"  {name}:", StringComparison.Ordinal));
        return block ?? throw new InvalidOperationException($"no service {name} in:\n{config}");
    }

    internal static IEnumerable<string> Services(string config)
    {
        var lines = config.Split('\n');
        var start = Array.IndexOf(lines, "services:");
        var current = new List<string>();
        foreach (var line in lines.Skip(start + 1))
        {
            if (line.Length > 0 && line[0] != ' ')
            {
                break; // volumes: and the rest
            }

            if (line.StartsWith("  ", StringComparison.Ordinal) && line.Length > 2 && line[2] != ' ' && current.Count > 0)
            {
                yield return string.Join('\n', current);
                current.Clear();
            }

            current.Add(line);
        }

        if (current.Count > 0)
        {
            yield return string.Join('\n', current);
        }
    }

    internal static string Ports(string service)
    {
        var lines = service.Split('\n');
        var at = Array.FindIndex(lines, l => l.Trim() == "ports:");
        return at < 0 ? string.Empty : string.Join('\n', lines.Skip(at + 1).TakeWhile(l => l.StartsWith("    -", StringComparison.Ordinal) || l.StartsWith("      ", StringComparison.Ordinal)));
    }
}
