using System.Net.Sockets;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real Mosquitto 2 broker on a free loopback port: the Debian package <c>mosquitto</c>, or the
/// <c>eclipse-mosquitto:2</c> image where the package is missing and Docker is there (<see cref="ContainerFallback"/>).
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private IAsyncDisposable _server;
    private string? _executable;
    private string? _config;
    private string? _folder;

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

    /// <summary>
    /// Starts a broker from the shipped <c>deploy/mosquitto/mosquitto.conf</c>, with only the listener (a free loopback
    /// port) and the persistence location (the broker's temp folder) rewritten: persistence on, QoS 0 queueing for
    /// absent sessions, the shipped queue and in-flight limits. <see cref="RestartAsync"/> brings it back on the same
    /// port with its saved state. Needs the Debian package (no container fallback).
    /// </summary>
    public static async Task<MosquittoServer> StartShippedAsync()
    {
        var executable = ServerProcess.Find("mosquitto") ?? throw ContainerFallback.Missing("mosquitto", "mosquitto");
        var folder = ServerProcess.NewFolder("mosquitto-shipped");
        // Mosquitto started as root drops to the mosquitto user, which must be able to write its persistence file.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0x1FF);
        }
        var port = ServerProcess.FreePort();
        var shipped = await File.ReadAllLinesAsync(Path.Combine(RepositoryRoot(), "deploy", "mosquitto", "mosquitto.conf"));
        var lines = shipped.Select(line => line switch
        {
            _ when line.StartsWith("listener ", StringComparison.Ordinal) => $"listener {port} 127.0.0.1",
            _ when line.StartsWith("persistence_location ", StringComparison.Ordinal) => $"persistence_location {folder}/",
            _ => line,
        }).ToList();
        if (!lines.Contains($"listener {port} 127.0.0.1") || !lines.Contains($"persistence_location {folder}/"))
        {
            throw new InvalidOperationException("deploy/mosquitto/mosquitto.conf has no 'listener' or 'persistence_location' line to rewrite");
        }

        var config = Path.Combine(folder, "mosquitto.conf");
        await File.WriteAllLinesAsync(config, lines);
        var server = new MosquittoServer(await StartProcessAsync(executable, config, folder, port), "127.0.0.1", port)
        {
            _executable = executable,
            _config = config,
            _folder = folder,
        };
        return server;
    }

    /// <summary>The shipped configuration this broker runs, as rewritten for the test.</summary>
    public string? ConfigPath => _config;

    /// <summary>
    /// Stops the broker gracefully (SIGTERM: it saves its sessions and queued messages to its persistence file) and
    /// starts it again on the same port and folder. Only for brokers from <see cref="StartShippedAsync"/>.
    /// </summary>
    public async Task RestartAsync()
    {
        if (_server is not ServerProcess process || _config is null)
        {
            throw new InvalidOperationException("only a broker started from the shipped configuration can be restarted");
        }

        await process.TerminateAsync(TimeSpan.FromSeconds(30));
        process.KeepFolder = true;
        await process.DisposeAsync();
        _server = await StartProcessAsync(_executable!, _config, _folder!, Port);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static Task<ServerProcess> StartProcessAsync(string executable, string config, string folder, int port) =>
        ServerProcess.StartAsync(executable, ["-c", config], folder, () => ServerProcess.AcceptsTcpAsync(port), TimeSpan.FromSeconds(20));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrintFarm.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no PrintFarm.sln above {AppContext.BaseDirectory}");
    }

    private static async Task<bool> AcceptsTcpAsync(string host, int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(host, port);
        return true;
    }
}
