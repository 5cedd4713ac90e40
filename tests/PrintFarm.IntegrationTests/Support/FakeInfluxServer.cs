using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real HTTP endpoint on a free loopback port that answers like InfluxDB 1.6 (<c>/ping</c> with
/// <c>X-Influxdb-Version</c>, <c>/write</c>) but with the status <see cref="Respond"/> picks for each request body, so a
/// test can make the database answer 400, 401, 404, 413 or 429. The lines of every 204 are kept.
/// </summary>
public sealed class FakeInfluxServer : LoopbackHttpServer
{
    private readonly ConcurrentQueue<string> _written = new();
    private readonly ConcurrentQueue<int> _statuses = new();

    private FakeInfluxServer()
        : base("/")
    {
        Url = Root;
        Listen();
    }

    public string Url { get; }

    /// <summary>Picks the answer to a write from its lines: status, JSON body, optional Retry-After seconds. Default 204.</summary>
    public Func<IReadOnlyList<string>, (int Status, string Body, int? RetryAfter)> Respond { get; set; } = _ => (204, string.Empty, null);

    /// <summary>Lines of the writes answered 204.</summary>
    public IReadOnlyCollection<string> Written => _written;

    /// <summary>Statuses answered to writes, in order.</summary>
    public IReadOnlyCollection<int> Statuses => _statuses;

    public static FakeInfluxServer Start() => new();

    protected override async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        response.Headers["X-Influxdb-Version"] = "1.6.7~rc0";
        response.Headers["X-Influxdb-Build"] = "OSS";
        if (context.Request.Url!.AbsolutePath == "/ping")
        {
            response.StatusCode = 204;
            response.Close();
            return;
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
