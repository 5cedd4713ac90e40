using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real HTTP endpoint on a free loopback port standing in for Slack, Discord or ntfy: keeps every request body and
/// answers with the next status of <see cref="Statuses"/> (then 200), so a test can make the first attempt fail.
/// </summary>
public sealed class WebhookReceiver : LoopbackHttpServer
{
    private readonly ConcurrentQueue<(int Status, string Body)> _requests = new();

    private WebhookReceiver()
        : base("/hook/")
    {
        Url = Root + "/hook/";
        Listen();
    }

    public string Url { get; }

    /// <summary>Statuses to answer, in order, before answering 200.</summary>
    public ConcurrentQueue<int> Statuses { get; } = new();

    /// <summary>Requests so far: the status answered and the body.</summary>
    public IReadOnlyList<(int Status, string Body)> Requests => _requests.ToArray();

    public static WebhookReceiver Start() => new();

    protected override async Task HandleAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var status = Statuses.TryDequeue(out var s) ? s : 200;
        _requests.Enqueue((status, body));
        context.Response.StatusCode = status;
        context.Response.Close();
    }
}
