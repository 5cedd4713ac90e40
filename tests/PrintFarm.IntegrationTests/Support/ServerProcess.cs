using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A real server started for the tests: its own temp folder, a free loopback port, output captured for the failure
/// message, killed (with its children) and its folder deleted on dispose.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, string folder)
    {
        _process = process;
        Folder = folder;
    }

    /// <summary>The server's temp folder.</summary>
    public string Folder { get; }

    /// <summary>What the server printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Leave <see cref="Folder"/> in place on dispose: a server started again on the same data owns it then.</summary>
    public bool KeepFolder { get; set; }

    /// <summary>A new temp folder for a server.</summary>
    public static string NewFolder(string name)
    {
        var folder = Path.Combine(Path.GetTempPath(), "printfarm-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    // Below the kernel's ephemeral range (Linux: 32768–60999), which every outgoing connection of the test run draws
    // its local port from: a port taken from that range by binding port 0 can be given to a client socket between
    // the check and the server's own bind, and the server then exits with "address in use" (seen in CI).
    private const int LowestPort = 20000;
    private const int PortRange = 12000;
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A TCP port free on loopback right now, outside the ephemeral range and never handed out before in this test
    /// process (so two servers of one test can never be given the same port).
    /// </summary>
    public static int FreePort()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = LowestPort + Random.Shared.Next(PortRange);
            lock (HandedOut)
            {
                if (HandedOut.Contains(port))
                {
                    continue;
                }
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
            }
            catch (SocketException)
            {
                continue;
            }

            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port in {LowestPort}–{LowestPort + PortRange - 1} after 1,000 tries");
    }

    /// <summary>Finds <paramref name="executable"/> on PATH (and in /usr/sbin, where Debian puts mosquitto).</summary>
    public static string? Find(string executable)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator).Append("/usr/sbin").Append("/usr/local/sbin"))
        {
            var candidate = Path.Combine(dir, executable);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Starts <paramref name="executable"/> and waits until <paramref name="isReady"/> says so, or fails with its output.</summary>
    public static async Task<ServerProcess> StartAsync(string executable, IEnumerable<string> arguments, string folder, Func<Task<bool>> isReady, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, folder);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                // HasExited can be true before the redirected output is read to its end: the parameterless wait
                // returns once both streams reached end of file, so the reason the server gave is in the message.
                process.WaitForExit();

                // Read before the dispose, which releases the process (its exit code then throws).
                var exited = new InvalidOperationException($"{Path.GetFileName(executable)} exited with {process.ExitCode} before it was ready:\n{server.Output}");
                await server.DisposeAsync();
                throw exited;
            }

            try
            {
                if (await isReady())
                {
                    return server;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(Eventually.PollInterval);
        }

        var output = server.Output;
        await server.DisposeAsync();
        throw new TimeoutException($"{Path.GetFileName(executable)} was not ready within {timeout}:\n{output}");
    }

    /// <summary>True when something accepts TCP connections on the loopback port.</summary>
    public static async Task<bool> AcceptsTcpAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        return true;
    }

    /// <summary>Kills the server (as <c>kill -9</c> would) without deleting its folder.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Freezes the server (SIGSTOP) until <see cref="Resume"/>; dispose still kills it.</summary>
    public void Pause() => Signals.Pause(_process.Id);

    /// <summary>Lets a server frozen by <see cref="Pause"/> run again (SIGCONT).</summary>
    public void Resume() => Signals.Resume(_process.Id);

    /// <summary>Stops the server as a service manager would (SIGTERM) and waits for it to exit; its folder stays.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        Signals.Terminate(_process.Id);
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
        if (KeepFolder)
        {
            return;
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
