using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;

// Simulated farm: every printer prints `jobs` jobs back to back (in event time, starting a week ago), publishing
// job_started, `progress` job_progress samples and job_finished in the native schema over QoS 1. Then polls InfluxDB
// until every job point and the farm's KPIs are in, and reports throughput and drain time.
// `PrintFarm.LoadGen bench …` runs the throughput / limits / latency benchmark instead (Bench/ThroughputBench.cs).
if (args.Length > 0 && args[0] == "bench")
{
    return await PrintFarm.LoadGen.Bench.ThroughputBench.RunAsync(args[1..]);
}

// `PrintFarm.LoadGen nats-drain …`: a plain JetStream consumer that drains a stream, for the clustered benchmark's
// NATS-only limit (Bench/NatsDrain.cs).
if (args.Length > 0 && args[0] == "nats-drain")
{
    return await PrintFarm.LoadGen.Bench.NatsDrain.RunAsync(args[1..]);
}

var options = LoadOptions.Parse(args);
var totalJobs = options.Printers * options.Jobs;
var totalMessages = totalJobs * (2 + options.Progress);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load: {options.Printers} printers × {options.Jobs} jobs × {2 + options.Progress} messages = {totalMessages} messages over {options.Connections} connections, {options.InFlight} in flight each"));

var origin = DateTimeOffset.UtcNow.AddDays(-7);
origin = new DateTimeOffset(origin.UtcTicks - (origin.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);
var factory = new MqttClientFactory();
var clients = new List<IMqttClient>();
// --mqtt-ports spreads the connections over several brokers (the nodes of a NATS cluster), connection c on port
// c mod n; a printer keeps its connection, hence its node. MQTT 3.1.1, which the NATS MQTT listener requires.
var ports = options.MqttPorts.Length > 0 ? options.MqttPorts : [options.MqttPort];
for (var c = 0; c < options.Connections; c++)
{
    var client = factory.CreateMqttClient();
    await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(options.MqttHost, ports[c % ports.Length]).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V311).WithClientId($"loadgen-{c}-{Guid.NewGuid():N}").Build());
    clients.Add(client);
}

var published = 0L;
var stopwatch = Stopwatch.StartNew();
await PublishAllAsync();
var publishSeconds = stopwatch.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"published {published} messages in {publishSeconds:F2} s = {published / publishSeconds:F0} msg/s (QoS 1, acknowledged by the broker)"));

if (options.NoWait)
{
    foreach (var client in clients)
    {
        await client.DisconnectAsync();
        client.Dispose();
    }

    return published == totalMessages ? 0 : 1;
}

using var http = new HttpClient { BaseAddress = new Uri(options.InfluxUrl), Timeout = TimeSpan.FromSeconds(30) };
var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(options.Timeout);
long jobsLanded = 0;
long farmJobs = 0;
double? jobsSeconds = null;
while (DateTime.UtcNow < deadline)
{
    jobsLanded = await CountAsync(http, options.Database, "SELECT count(\"job_id\") FROM \"job\"");
    if (jobsLanded >= totalJobs)
    {
        jobsSeconds ??= stopwatch.Elapsed.TotalSeconds;
        farmJobs = await FarmJobsAsync(http, options.Database);
        if (farmJobs >= totalJobs)
        {
            break;
        }
    }

    await Task.Delay(TimeSpan.FromMilliseconds(200));
}

var totalSeconds = stopwatch.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job points: {jobsLanded}/{totalJobs} after {jobsSeconds ?? totalSeconds:F2} s; farm 1d KPIs count {farmJobs}/{totalJobs} jobs after {totalSeconds:F2} s"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"end-to-end: {totalMessages / totalSeconds:F0} msg/s, {totalJobs / totalSeconds:F0} jobs/s; drain after the last publish {totalSeconds - publishSeconds:F2} s"));
foreach (var client in clients)
{
    await client.DisconnectAsync();
    client.Dispose();
}

return jobsLanded >= totalJobs && farmJobs >= totalJobs ? 0 : 1;

// A farm publishes in (roughly) event-time order across printers, each printer on its own connection: messages are
// merged by event time, a printer always uses the same connection (MQTT keeps order per connection), and at most
// `in-flight` × connections publishes await their acknowledgement at once.
async Task PublishAllAsync()
{
    var all = new List<(DateTimeOffset At, int Printer, byte[] Payload)>(totalMessages);
    for (var p = 0; p < options.Printers; p++)
    {
        foreach (var (at, payload) in Messages($"load-{p:D4}", origin.AddSeconds(p * 7 % 600)))
        {
            all.Add((at, p, payload));
        }
    }

    all.Sort((a, b) => a.At.CompareTo(b.At));
    using var inFlight = new SemaphoreSlim(options.InFlight * clients.Count);
    var pending = new List<Task>(all.Count);
    foreach (var (_, p, payload) in all)
    {
        await inFlight.WaitAsync();
        var message = new MqttApplicationMessageBuilder().WithTopic($"printfarm/load-{p:D4}/event").WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        pending.Add(PublishOneAsync(clients[p % clients.Count], message, inFlight));
    }

    await Task.WhenAll(pending);
}

async Task PublishOneAsync(IMqttClient client, MqttApplicationMessage message, SemaphoreSlim inFlight)
{
    try
    {
        await client.PublishAsync(message);
        Interlocked.Increment(ref published);
    }
    finally
    {
        inFlight.Release();
    }
}

IEnumerable<(DateTimeOffset At, byte[] Payload)> Messages(string printer, DateTimeOffset start)
{
    string[] toys = ["dragon_x4", "castle", "owl_x2", "robot_x3"];
    string[] outcomes = ["completed", "completed", "completed", "completed", "failed", "cancelled"];
    var t = start;
    for (var j = 0; j < options.Jobs; j++)
    {
        var id = $"{printer}-{j}";
        var minutes = 20 + (j * 37 % 180);
        var end = t.AddMinutes(minutes);
        yield return (t, JsonSerializer.SerializeToUtf8Bytes(new { type = "job_started", ts = t.ToUnixTimeMilliseconds(), job_id = id, file = toys[j % toys.Length] + ".gcode", material = j % 3 == 0 ? "PETG" : "PLA" }));
        for (var s = 1; s <= options.Progress; s++)
        {
            var at = t.AddMinutes(minutes * s / (options.Progress + 1.0));
            yield return (at, JsonSerializer.SerializeToUtf8Bytes(new { type = "job_progress", ts = at.ToUnixTimeMilliseconds(), job_id = id, progress_pct = 100.0 * s / (options.Progress + 1), state = "printing", nozzle_c = 210.3, nozzle_target_c = 210.0, bed_c = 60.1, bed_target_c = 60.0 }));
        }

        yield return (end, JsonSerializer.SerializeToUtf8Bytes(new { type = "job_finished", ts = end.ToUnixTimeMilliseconds(), job_id = id, outcome = outcomes[j % outcomes.Length], print_time_s = minutes * 60.0, filament_g = 5.0 + (j % 40) }));
        t = end.AddMinutes(3);
    }
}

// Sum of ended jobs over the farm's daily windows (one point per window: rewrites of an open window overwrite it).
static async Task<long> FarmJobsAsync(HttpClient http, string database)
{
    const string query = "SELECT \"jobs_completed\", \"jobs_failed\", \"jobs_cancelled\" FROM \"kpi\" WHERE \"scope\" = 'farm' AND \"window\" = '1d'";
    var body = await http.GetStringAsync(new Uri($"/query?db={Uri.EscapeDataString(database)}&q={Uri.EscapeDataString(query)}", UriKind.Relative));
    using var doc = JsonDocument.Parse(body);
    var result = doc.RootElement.GetProperty("results")[0];
    if (!result.TryGetProperty("series", out var series))
    {
        return 0;
    }

    long total = 0;
    foreach (var row in series[0].GetProperty("values").EnumerateArray())
    {
        total += (long)(row[1].GetDouble() + row[2].GetDouble() + row[3].GetDouble());
    }

    return total;
}

static async Task<long> CountAsync(HttpClient http, string database, string query)
{
    var body = await http.GetStringAsync(new Uri($"/query?db={Uri.EscapeDataString(database)}&q={Uri.EscapeDataString(query)}", UriKind.Relative));
    using var doc = JsonDocument.Parse(body);
    var result = doc.RootElement.GetProperty("results")[0];
    if (!result.TryGetProperty("series", out var series))
    {
        return 0;
    }

    return (long)series[0].GetProperty("values")[0][1].GetDouble();
}

internal sealed record LoadOptions(string MqttHost, int MqttPort, string InfluxUrl, string Database, int Printers, int Jobs, int Progress, int Connections, int InFlight, int[] MqttPorts, bool NoWait, int Timeout)
{
    public static LoadOptions Parse(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            map[args[i].TrimStart('-')] = args[i + 1];
        }

        string Get(string key, string fallback) => map.TryGetValue(key, out var v) ? v : fallback;
        int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        return new LoadOptions(
            Get("mqtt-host", "127.0.0.1"),
            Int("mqtt-port", 1883),
            Get("influx", "http://127.0.0.1:8086"),
            Get("db", "load"),
            Int("printers", 500),
            Int("jobs", 20),
            Int("progress", 10),
            Int("connections", 4),
            Int("in-flight", 64),
            [.. Get("mqtt-ports", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture))],
            Get("no-wait", "false") == "true",
            Int("timeout", 600));
    }
}
