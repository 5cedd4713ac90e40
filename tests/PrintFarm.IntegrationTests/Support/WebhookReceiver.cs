using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real HTTP endpoint on a free loopback port standing in for Slack, Discord or ntfy: keeps every request body and
/// answers with the next status of <see cref="Statuses"/> (then 200), so a test can make the first attempt fail.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(int Status, string Body)> _requests = new();
    private readonly Task _loop;

    private WebhookReceiver(int port)
    {
        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    /// <summary>Statuses to answer, in order, before answering 200.</summary>
    public ConcurrentQueue<int> Statuses { get; } = new();

    /// <summary>Requests so far: the status answered and the body.</summary>
    public IReadOnlyList<(int Status, string Body)> Requests => _requests.ToArray();

    public static WebhookReceiver Start()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new WebhookReceiver(port);
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

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = Statuses.TryDequeue(out var s) ? s : 200;
            _requests.Enqueue((status, body));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }
}
