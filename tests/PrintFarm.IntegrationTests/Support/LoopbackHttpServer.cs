using System.Net;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real HTTP endpoint on a free loopback port for the fakes of outside services (a webhook receiver, a misbehaving
/// InfluxDB): one loop takes each request to <see cref="HandleAsync"/>, which answers and closes it.
/// </summary>
public abstract class LoopbackHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private Task? _loop;

    /// <param name="path">The path prefix served, with a trailing '/'.</param>
    protected LoopbackHttpServer(string path)
    {
        Root = $"http://127.0.0.1:{ServerProcess.FreePort()}";
        _listener.Prefixes.Add(Root + path);
    }

    /// <summary><c>http://127.0.0.1:{port}</c>.</summary>
    protected string Root { get; }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            if (_loop is not null)
            {
                await _loop;
            }
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
        {
            // Stopped.
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Starts listening; call at the end of the derived constructor.</summary>
    protected void Listen()
    {
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Answers one request (and closes its response).</summary>
    protected abstract Task HandleAsync(HttpListenerContext context);

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

            await HandleAsync(context);
        }
    }
}
