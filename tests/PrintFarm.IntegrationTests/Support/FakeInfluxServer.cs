using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real HTTP endpoint on a free loopback port that answers like InfluxDB 1.6 (<c>/ping</c> with
/// <c>X-Influxdb-Version</c>, <c>/write</c>) but with the status <see cref="Respond"/> picks for each request body, so a
/// test can make the database answer 400, 401, 404, 413 or 429. The lines of every 204 are kept.
/// </summary>
public sealed class FakeInfluxServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<string> _written = new();
    private readonly ConcurrentQueue<int> _statuses = new();
    private readonly Task _loop;

    private FakeInfluxServer(int port)
    {
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    /// <summary>Picks the answer to a write from its lines: status, JSON body, optional Retry-After seconds. Default 204.</summary>
    public Func<IReadOnlyList<string>, (int Status, string Body, int? RetryAfter)> Respond { get; set; } = _ => (204, string.Empty, null);

    /// <summary>Lines of the writes answered 204.</summary>
    public IReadOnlyCollection<string> Written => _written;

    /// <summary>Statuses answered to writes, in order.</summary>
    public IReadOnlyCollection<int> Statuses => _statuses;

    public static FakeInfluxServer Start()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new FakeInfluxServer(port);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var response = context.Response;
            response.Headers["X-Influxdb-Version"] = "1.6.7~rc0";
            response.Headers["X-Influxdb-Build"] = "OSS";
            if (context.Request.Url!.AbsolutePath == "/ping")
            {
                response.StatusCode = 204;
                response.Close();
                continue;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var lines = (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var (status, body, retryAfter) = Respond(lines);
            _statuses.Enqueue(status);
            if (status == 204)
            {
                foreach (var line in lines)
                {
                    _written.Enqueue(line);
                }
            }

            response.StatusCode = status;
            if (retryAfter is { } seconds)
            {
                response.Headers["Retry-After"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            var bytes = Encoding.UTF8.GetBytes(body);
            response.ContentType = "application/json";
            await response.OutputStream.WriteAsync(bytes);
            response.Close();
        }
    }
}
