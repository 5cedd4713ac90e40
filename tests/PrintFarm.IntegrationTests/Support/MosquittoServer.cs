namespace PrintFarm.IntegrationTests.Support;

/// <summary>A real Mosquitto 2 broker on a free loopback port (Debian package <c>mosquitto</c>).</summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private readonly ServerProcess _process;

    private MosquittoServer(ServerProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public static async Task<MosquittoServer> StartAsync()
    {
        var executable = ServerProcess.Find("mosquitto")
            ?? throw new InvalidOperationException("mosquitto is not installed: run ./build.sh test, which installs it (apt-get install mosquitto)");
        var folder = ServerProcess.NewFolder("mosquitto");
        var port = ServerProcess.FreePort();
        var config = Path.Combine(folder, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest stdout
            log_type error
            log_type warning
            max_queued_messages 100000
            max_inflight_messages 100
            """);
        var process = await ServerProcess.StartAsync(executable, ["-c", config], folder, () => ServerProcess.AcceptsTcpAsync(port), TimeSpan.FromSeconds(20));
        return new MosquittoServer(process, port);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
