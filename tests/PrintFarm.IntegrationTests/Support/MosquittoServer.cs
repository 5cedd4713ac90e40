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
    /// <para>
    /// Without <paramref name="users"/> the shipped authentication is switched off (<c>allow_anonymous true</c>, no
    /// password file or ACL): for tests of persistence and queueing with anonymous clients. With them, the shipped
    /// <c>deploy/mosquitto/init-passwd.sh</c> makes the password file from them (its environment: <c>MQTT_WORKER_PASSWORD</c>,
    /// <c>MQTT_PRINTERS</c>, …) and the broker runs the shipped ACL, as the compose file runs it.
    /// </para>
    /// </summary>
    public static async Task<MosquittoServer> StartShippedAsync(IReadOnlyDictionary<string, string>? users = null)
    {
        var executable = ServerProcess.Find("mosquitto") ?? throw ContainerFallback.Missing("mosquitto", "mosquitto");
        var folder = ServerProcess.NewFolder("mosquitto-shipped");
        // Mosquitto started as root drops to the mosquitto user, which must be able to write its persistence file.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0x1FF);
        }
        var port = ServerProcess.FreePort();
        var deploy = Path.Combine(RepositoryRoot(), "deploy", "mosquitto");
        var shipped = await File.ReadAllLinesAsync(Path.Combine(deploy, "mosquitto.conf"));
        var passwd = Path.Combine(folder, "passwd");
        var acl = Path.Combine(folder, "acl");
        var secured = users is not null;
        var lines = shipped.Select(line => line switch
        {
            _ when line.StartsWith("listener ", StringComparison.Ordinal) => $"listener {port} 127.0.0.1",
            _ when line.StartsWith("persistence_location ", StringComparison.Ordinal) => $"persistence_location {folder}/",
            _ when line.StartsWith("allow_anonymous ", StringComparison.Ordinal) => secured ? line : "allow_anonymous true",
            _ when line.StartsWith("password_file ", StringComparison.Ordinal) => secured ? $"password_file {passwd}" : "# " + line,
            _ when line.StartsWith("acl_file ", StringComparison.Ordinal) => secured ? $"acl_file {acl}" : "# " + line,
            _ => line,
        }).ToList();
        if (!lines.Contains($"listener {port} 127.0.0.1") || !lines.Contains($"persistence_location {folder}/"))
        {
            throw new InvalidOperationException("deploy/mosquitto/mosquitto.conf has no 'listener' or 'persistence_location' line to rewrite");
        }

        if (secured)
        {
            if (!lines.Contains("allow_anonymous false") || !lines.Contains($"password_file {passwd}") || !lines.Contains($"acl_file {acl}"))
            {
                throw new InvalidOperationException("deploy/mosquitto/mosquitto.conf lacks 'allow_anonymous false', 'password_file' or 'acl_file'");
            }

            File.Copy(Path.Combine(deploy, "acl"), acl);
            await RunInitScriptAsync(Path.Combine(deploy, "init-passwd.sh"), passwd, users!);
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

    /// <summary>Runs the shipped <c>init-passwd.sh</c> with <paramref name="environment"/>; its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunInitScriptAsync(string script, string passwd, IReadOnlyDictionary<string, string> environment, bool throwOnFailure = true)
    {
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MQTT_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["PASSWD_FILE"] = passwd;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;
        if (throwOnFailure && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}: {output}");
        }

        return (process.ExitCode, output);
    }

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
