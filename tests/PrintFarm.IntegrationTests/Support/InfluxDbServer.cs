using System.Globalization;
using System.Net;
using System.Text.Json;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real InfluxDB 1.x (Debian package <c>influxdb</c>, 1.6): the v1 write API and InfluxQL, on a free loopback port
/// with its data in a temp folder; or the <c>influxdb:1.8</c> image where the package is missing and Docker is there
/// (<see cref="ContainerFallback"/>).
/// </summary>
public sealed class InfluxDbServer : IAsyncDisposable
{
    private readonly HttpClient _http;
    private IAsyncDisposable _server;
    private Func<Task<ServerProcess>>? _startAgain;

    private InfluxDbServer(IAsyncDisposable server, string host, int port)
    {
        _server = server;
        Port = port;
        Url = $"http://{host}:{port}";
        _http = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public string Url { get; }

    /// <summary>Starts a server; on <paramref name="port"/> when given (to bring one back on a known port).</summary>
    public static async Task<InfluxDbServer> StartAsync(int? port = null)
    {
        var executable = ServerProcess.Find("influxd");
        if (executable is null)
        {
            if (!ContainerFallback.DockerAvailable)
            {
                throw ContainerFallback.Missing("influxd", "influxdb");
            }

            using var containerProbe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var (container, host, mapped) = await ContainerFallback.StartAsync(
                "influxdb:1.8", 8086, port, [], new Dictionary<string, string> { ["INFLUXDB_REPORTING_DISABLED"] = "true" },
                async (h, p) => (await containerProbe.GetAsync(new Uri($"http://{h}:{p}/ping"))).StatusCode == HttpStatusCode.NoContent);
            return new InfluxDbServer(container, host, mapped);
        }

        var folder = ServerProcess.NewFolder("influxdb");
        var httpPort = port ?? ServerProcess.FreePort();
        var rpcPort = ServerProcess.FreePort();
        var config = Path.Combine(folder, "influxdb.conf");
        await File.WriteAllTextAsync(config, $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{rpcPort}"
            [meta]
              dir = "{folder}/meta"
            [data]
              dir = "{folder}/data"
              wal-dir = "{folder}/wal"
              query-log-enabled = false
            [http]
              bind-address = "127.0.0.1:{httpPort}"
              log-enabled = false
            [monitor]
              store-enabled = false
            [continuous_queries]
              enabled = false
            [subscriber]
              enabled = false
            """);
        async Task<ServerProcess> StartProcessAsync()
        {
            using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            return await ServerProcess.StartAsync(
                executable,
                ["run", "-config", config],
                folder,
                async () => (await probe.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/ping"))).StatusCode == HttpStatusCode.NoContent,
                TimeSpan.FromSeconds(60));
        }

        return new InfluxDbServer(await StartProcessAsync(), "127.0.0.1", httpPort) { _startAgain = StartProcessAsync };
    }

    /// <summary>Whether the server is running (false between <see cref="KillAsync"/> and <see cref="StartAgainAsync"/>).</summary>
    public bool IsRunning => _server is not ServerProcess process || process.IsRunning;

    /// <summary>Kills the server (SIGKILL), keeping its data folder for <see cref="StartAgainAsync"/>. Package-installed servers only.</summary>
    public async Task KillAsync()
    {
        if (_server is not ServerProcess process)
        {
            throw new InvalidOperationException("only a package-installed InfluxDB can be killed and started again");
        }

        await process.KillAsync();
    }

    /// <summary>Starts a killed server again on the same port and data folder (it recovers from its write-ahead log).</summary>
    public async Task StartAgainAsync()
    {
        if (_server is not ServerProcess { IsRunning: false } process || _startAgain is null)
        {
            throw new InvalidOperationException("StartAgainAsync needs a package-installed InfluxDB stopped by KillAsync");
        }

        process.KeepFolder = true;
        await process.DisposeAsync();
        _server = await _startAgain();
    }

    /// <summary>Creates a database (InfluxQL <c>CREATE DATABASE</c>).</summary>
    public async Task CreateDatabaseAsync(string database)
    {
        using var content = new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{database}\"")]);
        using var response = await _http.PostAsync(new Uri("/query", UriKind.Relative), content);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Runs an InfluxQL query and returns its rows: one dictionary per row, tags (from GROUP BY) included.</summary>
    public async Task<IReadOnlyList<Dictionary<string, JsonElement>>> QueryAsync(string database, string influxQl)
    {
        var uri = new Uri($"/query?db={Uri.EscapeDataString(database)}&epoch=ms&q={Uri.EscapeDataString(influxQl)}", UriKind.Relative);
        using var response = await _http.GetAsync(uri);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"InfluxQL '{influxQl}' failed with {(int)response.StatusCode}: {body}");
        }

        using var doc = JsonDocument.Parse(body);
        var rows = new List<Dictionary<string, JsonElement>>();
        foreach (var result in doc.RootElement.GetProperty("results").EnumerateArray())
        {
            if (result.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"InfluxQL '{influxQl}' failed: {error}");
            }

            if (!result.TryGetProperty("series", out var series))
            {
                continue;
            }

            foreach (var s in series.EnumerateArray())
            {
                var columns = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
                foreach (var values in s.GetProperty("values").EnumerateArray())
                {
                    var row = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                    var i = 0;
                    foreach (var v in values.EnumerateArray())
                    {
                        row[columns[i++]] = v.Clone();
                    }

                    if (s.TryGetProperty("tags", out var tags))
                    {
                        foreach (var tag in tags.EnumerateObject())
                        {
                            row[tag.Name] = tag.Value.Clone();
                        }
                    }

                    rows.Add(row);
                }
            }
        }

        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }
}

/// <summary>Reading InfluxQL result values.</summary>
public static class InfluxRowExtensions
{
    public static double Number(this Dictionary<string, JsonElement> row, string column) =>
        row.TryGetValue(column, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new KeyNotFoundException($"column '{column}' missing or not a number in {{{string.Join(", ", row.Select(kv => kv.Key + "=" + kv.Value))}}}");

    public static string? Text(this Dictionary<string, JsonElement> row, string column) =>
        row.TryGetValue(column, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>
    /// True when a <c>job</c> row holds every field the worker always writes (and <c>filament_g</c> when the filament
    /// is known). InfluxDB 1.x applies a point field by field: a query that runs while a write is being applied can
    /// see a point with only some of its fields, so a test that waits for points waits for whole ones.
    /// </summary>
    public static bool IsWholeJobPoint(this Dictionary<string, JsonElement> row) =>
        row.TryGetValue("print_time_s", out var time) && time.ValueKind == JsonValueKind.Number
        && row.TryGetValue("toys", out var toys) && toys.ValueKind == JsonValueKind.Number
        && row.Text("job_id") is not null
        && row.Text("filament_source") is { } source
        && (source == "unknown" || (row.TryGetValue("filament_g", out var grams) && grams.ValueKind == JsonValueKind.Number));

    public static DateTimeOffset Time(this Dictionary<string, JsonElement> row) =>
        DateTimeOffset.FromUnixTimeMilliseconds(row["time"].GetInt64());

    public static string Format(this IEnumerable<Dictionary<string, JsonElement>> rows) =>
        string.Join("\n", rows.Select(r => string.Join(", ", r.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value}")))));
}
