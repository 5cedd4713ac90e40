using System.Net;
using System.Text.Json;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real VictoriaMetrics (Debian package <c>victoria-metrics</c>): it accepts the InfluxDB v2 write API
/// (<c>/api/v2/write</c>), so the worker's v2 path is tested against a server that speaks it. Read back through
/// <c>/api/v1/export</c>, where each field is a series named <c>measurement_field</c>.
/// </summary>
public sealed class VictoriaMetricsServer : IAsyncDisposable
{
    private readonly ServerProcess _process;
    private readonly HttpClient _http;

    private VictoriaMetricsServer(ServerProcess process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}";
        _http = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Url { get; }

    public static async Task<VictoriaMetricsServer> StartAsync()
    {
        var executable = ServerProcess.Find("victoria-metrics")
            ?? throw new InvalidOperationException("victoria-metrics is not installed: run ./build.sh test, which installs it (apt-get install victoria-metrics)");
        var folder = ServerProcess.NewFolder("victoria-metrics");
        var port = ServerProcess.FreePort();
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var process = await ServerProcess.StartAsync(
            executable,
            [
                $"-storageDataPath={folder}/data",
                $"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                "-loggerLevel=ERROR",
            ],
            folder,
            async () => (await probe.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30));
        return new VictoriaMetricsServer(process, port);
    }

    /// <summary>Exported samples of every series matching <paramref name="selector"/>: labels and the values by timestamp.</summary>
    public async Task<IReadOnlyList<(Dictionary<string, string> Labels, Dictionary<long, double> Values)>> ExportAsync(string selector)
    {
        // Make what was just written searchable now rather than after the next periodic flush.
        using (await _http.GetAsync(new Uri("/internal/force_flush", UriKind.Relative)))
        {
        }

        var uri = new Uri($"/api/v1/export?match[]={Uri.EscapeDataString(selector)}", UriKind.Relative);
        var body = await _http.GetStringAsync(uri);
        var series = new List<(Dictionary<string, string>, Dictionary<long, double>)>();
        foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var labels = doc.RootElement.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            var values = new Dictionary<long, double>();
            var times = doc.RootElement.GetProperty("timestamps").EnumerateArray().Select(t => t.GetInt64()).ToArray();
            var i = 0;
            foreach (var v in doc.RootElement.GetProperty("values").EnumerateArray())
            {
                values[times[i++]] = v.GetDouble();
            }

            series.Add((labels, values));
        }

        return series;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
