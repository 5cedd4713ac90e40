using System.Net;
using System.Text.Json;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real VictoriaMetrics (Debian package <c>victoria-metrics</c>): it accepts the InfluxDB v2 write API
/// (<c>/api/v2/write</c>), so the worker's v2 path is tested against a server that speaks it. Read back through
/// <c>/api/v1/export</c>, where each field is a series named <c>measurement_field</c>. Where the package is missing
/// and Docker is there, the <c>victoriametrics/victoria-metrics</c> image (<see cref="ContainerFallback"/>).
/// </summary>
public sealed class VictoriaMetricsServer : IAsyncDisposable
{
    private readonly IAsyncDisposable _server;
    private readonly HttpClient _http;

    private VictoriaMetricsServer(IAsyncDisposable server, string host, int port)
    {
        _server = server;
        Url = $"http://{host}:{port}";
        _http = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Url { get; }

    public static async Task<VictoriaMetricsServer> StartAsync()
    {
        var executable = ServerProcess.Find("victoria-metrics");
        if (executable is null)
        {
            if (!ContainerFallback.DockerAvailable)
            {
                throw ContainerFallback.Missing("victoria-metrics", "victoria-metrics");
            }

            using var containerProbe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var (container, host, mapped) = await ContainerFallback.StartAsync(
                "victoriametrics/victoria-metrics:v1.79.5", 8428, null, ["-retentionPeriod=100y", "-loggerLevel=ERROR"], new Dictionary<string, string>(),
                async (h, p) => (await containerProbe.GetAsync(new Uri($"http://{h}:{p}/health"))).StatusCode == HttpStatusCode.OK);
            return new VictoriaMetricsServer(container, host, mapped);
        }

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
        return new VictoriaMetricsServer(process, "127.0.0.1", port);
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
        await _server.DisposeAsync();
    }
}
