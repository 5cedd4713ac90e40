using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real InfluxDB 1.x serving HTTPS only, with a certificate from <see cref="TestPki"/> and authentication on
/// (an admin user with a random password), configured by the test.
/// </summary>
public sealed class TlsInflux : IAsyncDisposable
{
    public const string Username = "farm-admin";

    private readonly ServerProcess _process;
    private readonly HttpClient _http;

    private TlsInflux(ServerProcess process, HttpClient http, int port, string password)
    {
        _process = process;
        _http = http;
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Url => $"https://localhost:{Port}";

    public string Password { get; }

    public static async Task<TlsInflux> StartAsync(TestPki pki)
    {
        var executable = ServerProcess.Find("influxd") ?? throw new InvalidOperationException("influxd is not installed (./build.sh test installs it)");
        var folder = ServerProcess.NewFolder("influxdb-tls");
        var httpPort = ServerProcess.FreePort();
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
              auth-enabled = true
              https-enabled = true
              https-certificate = "{pki.ServerCertificateFile}"
              https-private-key = "{pki.ServerKeyFile}"
            [monitor]
              store-enabled = false
            [continuous_queries]
              enabled = false
            [subscriber]
              enabled = false
            """);

        // The test's own client trusts the test CA only.
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(pki.CaFile);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(ca);
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var process = await ServerProcess.StartAsync(
            executable,
            ["run", "-config", config],
            folder,
            async () => (await http.GetAsync(new Uri("/ping", UriKind.Relative))).StatusCode == HttpStatusCode.NoContent,
            TimeSpan.FromSeconds(60));

        // With auth on and no users yet, InfluxDB 1.x accepts exactly one statement unauthenticated: the first admin.
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var server = new TlsInflux(process, http, httpPort, password);
        await server.QueryAsync($"CREATE USER \"{Username}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES", authenticate: false);
        return server;
    }

    public Task CreateDatabaseAsync(string database) => QueryAsync($"CREATE DATABASE \"{database}\"");

    /// <summary>Rows of a query's first series (InfluxQL over HTTPS, authenticated).</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryAsync(string influxQl, string? database = null, bool authenticate = true)
    {
        var form = new Dictionary<string, string> { ["q"] = influxQl };
        if (database is not null)
        {
            form["db"] = database;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/query", UriKind.Relative)) { Content = new FormUrlEncodedContent(form) };
        if (authenticate)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")));
        }

        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || body.Contains("\"error\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"query failed ({(int)response.StatusCode}): {body}");
        }

        var result = JsonDocument.Parse(body).RootElement.GetProperty("results")[0];
        return result.TryGetProperty("series", out var series) ? series[0].GetProperty("values").EnumerateArray().Select(v => v.Clone()).ToList() : [];
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
