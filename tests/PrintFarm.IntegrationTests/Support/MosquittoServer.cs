using System.Net.Sockets;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real Mosquitto 2 broker on a free loopback port: the Debian package <c>mosquitto</c>, or the
/// <c>eclipse-mosquitto:2</c> image where the package is missing and Docker is there (<see cref="ContainerFallback"/>).
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private readonly IAsyncDisposable _server;

    private MosquittoServer(IAsyncDisposable server, string host, int port)
    {
        _server = server;
        Host = host;
        Port = port;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>Starts a broker; on <paramref name="port"/> when given (to bring one back where clients expect it).</summary>
    public static async Task<MosquittoServer> StartAsync(int? port = null)
    {
        var executable = ServerProcess.Find("mosquitto");
        if (executable is null)
        {
            if (!ContainerFallback.DockerAvailable)
            {
                throw ContainerFallback.Missing("mosquitto", "mosquitto");
            }

            var (container, host, mappedPort) = await ContainerFallback.StartAsync(
                "eclipse-mosquitto:2", 1883, port, ["mosquitto", "-c", "/mosquitto-no-auth.conf"], new Dictionary<string, string>(), AcceptsTcpAsync);
            return new MosquittoServer(container, host, mappedPort);
        }

        var folder = ServerProcess.NewFolder("mosquitto");
        var listenPort = port ?? ServerProcess.FreePort();
        var config = Path.Combine(folder, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            listener {listenPort} 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest stdout
            log_type error
            log_type warning
            max_queued_messages 100000
            max_inflight_messages 100
            """);
        var process = await ServerProcess.StartAsync(executable, ["-c", config], folder, () => ServerProcess.AcceptsTcpAsync(listenPort), TimeSpan.FromSeconds(20));
        return new MosquittoServer(process, "127.0.0.1", listenPort);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<bool> AcceptsTcpAsync(string host, int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(host, port);
        return true;
    }
}
