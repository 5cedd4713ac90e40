using System.Diagnostics;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Mqtt;

/// <summary>
/// The embedded broker (<c>PrintFarm:Mqtt:EmbeddedBroker</c>) with a real external client: Mosquitto's own
/// <c>mosquitto_pub</c> / <c>mosquitto_sub</c> publish QoS 0, QoS 1 and retained messages to the worker's port; the
/// worker's ingestion client reads them over loopback and the job lands in a real InfluxDB.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class EmbeddedBrokerTests(ServicesFixture services)
{
    private const string User = "printer";
    private const string Password = "s3cret-pass";

    [Fact]
    public async Task Mosquitto_clients_publish_QoS_0_QoS_1_and_retained_messages_to_the_embedded_broker()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var port = ServerProcess.FreePort();
        settings["PrintFarm:Mqtt:EmbeddedBroker:Enabled"] = "true";
        settings["PrintFarm:Mqtt:EmbeddedBroker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["PrintFarm:Mqtt:EmbeddedBroker:Username"] = User;
        settings["PrintFarm:Mqtt:EmbeddedBroker:Password"] = Password;

        // The settings name the shared Mosquitto; with the embedded broker on, the worker must not use it.
        await using var worker = await WorkerHost.StartAsync(settings);
        var printer = "emb-" + Guid.NewGuid().ToString("N")[..8];
        var topic = $"printfarm/{printer}/event";

        var (code, output) = await PubAsync(port, "0", topic, """{"type":"job_started","ts":"2026-01-05T08:00:00Z","job_id":"E-1","file":"dragon_x4.gcode","toy":"dragon","quantity":4}""");
        Assert.True(code == 0, output);
        (code, output) = await PubAsync(port, "1", topic, """{"type":"job_progress","ts":"2026-01-05T08:30:00Z","job_id":"E-1","progress_pct":50,"state":"printing"}""");
        Assert.True(code == 0, output);
        (code, output) = await PubAsync(port, "1", topic, """{"type":"job_finished","ts":"2026-01-05T09:00:00Z","job_id":"E-1","outcome":"completed","file":"dragon_x4.gcode","toy":"dragon","quantity":4,"print_time_s":3600,"filament_g":42.5}""", retain: true);
        Assert.True(code == 0, output);

        var job = Assert.Single(await AdapterEndToEnd.JobsAsync(services, database, printer, 1));
        Assert.Equal(("completed", "dragon", 4.0, 3600.0, 42.5), (job.Text("outcome"), job.Text("toy"), job.Number("toys"), job.Number("print_time_s"), job.Number("filament_g")));
        await Eventually.Until(() => Task.FromResult(worker.Counter("printfarm.mqtt.messages.received")), n => n >= 3, "three messages received");

        // The retained message is kept by the embedded broker: a new subscriber (MQTT 5, no client id: the broker assigns one) gets it at once.
        var (subCode, retained) = await RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", $"{port}", "-V", "5", "-u", User, "-P", Password, "-t", topic, "-C", "1", "-W", "10", "-q", "1"]);
        Assert.True(subCode == 0, retained);
        Assert.Contains("\"job_finished\"", retained, StringComparison.Ordinal);

        // Wrong credentials are refused.
        var (refused, why) = await RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", $"{port}", "-u", User, "-P", "wrong", "-t", topic, "-m", "{}"]);
        Assert.True(refused != 0, "a wrong password was accepted: " + why);

        // Clear the retained message (an empty retained publish), as a real farm would.
        (code, output) = await PubAsync(port, "1", topic, string.Empty, retain: true);
        Assert.True(code == 0, output);
    }

    private static Task<(int, string)> PubAsync(int port, string qos, string topic, string payload, bool retain = false)
    {
        // MQTT 3.1.1 with a client id, as printer firmware connects. One id per publish: this test is about delivery;
        // reusing an id a moment after the last connection closed is a takeover, which once (under the full suite's
        // load) lost the new connection — noted as an open question, not what this test checks.
        var args = new List<string> { "-h", "127.0.0.1", "-p", $"{port}", "-V", "311", "-i", $"printer-{qos}-{Guid.NewGuid():N}"[..23], "-u", User, "-P", Password, "-q", qos, "-t", topic };
        if (payload.Length == 0)
        {
            args.Add("-n");
        }
        else
        {
            args.AddRange(["-m", payload]);
        }

        if (retain)
        {
            args.Add("-r");
        }

        return RunAsync("mosquitto_pub", args);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> arguments)
    {
        var path = ServerProcess.Find(tool) ?? throw new InvalidOperationException($"{tool} is not installed: ./build.sh test installs mosquitto-clients");
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
