using System.Diagnostics;
using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Deploy;

/// <summary>
/// Issue 20: docker-compose.yml's "cluster" profile — three NATS nodes from the shipped deploy/nats/nats.conf and two
/// workers in the clustered mode — is valid (<c>docker-compose config</c>, no engine needed), and the shipped NATS
/// configuration is one the real nats-server 2.9.10 accepts, refuses without its passwords, and agrees with the
/// workers on the number of partitions.
/// </summary>
public sealed class ClusterProfileTests
{
    private static readonly string[] Secrets = ["MQTT_WORKER_PASSWORD", "INFLUX_ADMIN_PASSWORD", "INFLUX_TOKEN", "GRAFANA_ADMIN_PASSWORD", "NATS_PASSWORD", "NATS_PRINTER_PASSWORD"];

    private static string NatsConf => Path.Combine(GrafanaFiles.RepoRoot, "deploy", "nats", "nats.conf");

    [Fact]
    public async Task The_cluster_profile_runs_three_NATS_nodes_and_two_leased_workers_on_the_partitions_the_servers_map()
    {
        var folder = ServerProcess.NewFolder("compose-cluster");
        var env = Path.Combine(folder, ".env");
        await File.WriteAllLinesAsync(env, Secrets.Select(r => $"{r}=secret-{r.ToLowerInvariant()}"));
        var (code, output) = await ShippedStackSecurityTests.ComposeConfigAsync(env, profiles: ["cluster"]);
        Assert.True(code == 0, output);

        var partitions = Regex.Matches(await File.ReadAllTextAsync(NatsConf), @"partition\((\d+),").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Single(partitions);
        foreach (var node in new[] { "nats-1", "nats-2", "nats-3" })
        {
            var service = ShippedStackSecurityTests.Service(output, node);
            Assert.Contains($"NATS_SERVER_NAME: {node}", service, StringComparison.Ordinal);
            Assert.Contains("NATS_PASSWORD: secret-nats_password", service, StringComparison.Ordinal);

            // Only the MQTT listener is published: client (4222), route (6222) and monitoring (8222) ports stay inside.
            var ports = ShippedStackSecurityTests.Ports(service);
            Assert.Contains("target: 1883", ports, StringComparison.Ordinal);
            Assert.DoesNotContain("4222", ports, StringComparison.Ordinal);
            Assert.DoesNotContain("6222", ports, StringComparison.Ordinal);
            Assert.DoesNotContain("8222", ports, StringComparison.Ordinal);
        }

        var ids = new List<string>();
        foreach (var worker in new[] { "worker-c1", "worker-c2" })
        {
            var service = ShippedStackSecurityTests.Service(output, worker);
            Assert.Contains("PrintFarm__Cluster__Enabled: \"true\"", service, StringComparison.Ordinal);
            Assert.Contains($"PrintFarm__Cluster__Partitions: '{partitions[0]}'", service, StringComparison.Ordinal);
            Assert.Contains("nats://printfarm-worker:secret-nats_password@nats-1:4222", service, StringComparison.Ordinal);
            Assert.DoesNotContain("PrintFarm__Cluster__Owned", service, StringComparison.Ordinal); // leased
            ids.Add(Regex.Match(service, @"PrintFarm__Cluster__WorkerId: (\S+)").Groups[1].Value);
        }

        Assert.Equal(2, ids.Distinct().Count());
    }

    [Fact]
    public async Task The_shipped_NATS_configuration_is_valid_for_nats_server_and_refused_without_its_passwords()
    {
        var all = new Dictionary<string, string> { ["NATS_SERVER_NAME"] = "nats-1", ["NATS_PASSWORD"] = "w", ["NATS_PRINTER_PASSWORD"] = "p" };
        var (code, output) = await TestConfigAsync(all);
        Assert.True(code == 0, output);
        Assert.Contains("is valid", output, StringComparison.Ordinal);

        foreach (var missing in all.Keys)
        {
            (code, output) = await TestConfigAsync(all.Where(kv => kv.Key != missing).ToDictionary());
            Assert.True(code != 0, output);
            Assert.Contains(missing, output, StringComparison.Ordinal);
        }
    }

    // nats-server -t: parses and checks the file, then exits; the environment holds only what is given.
    private static async Task<(int Code, string Output)> TestConfigAsync(Dictionary<string, string> environment)
    {
        var server = ServerProcess.Find("nats-server") ?? throw ContainerFallback.Missing("nats-server", "nats-server");
        var start = new ProcessStartInfo(server) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("NATS_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        foreach (var argument in new[] { "-c", NatsConf, "-t" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
