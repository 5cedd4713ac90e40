using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// The worker as a real process, the way it runs in production: <c>dotnet PrintFarm.Worker.dll</c> from the test's
/// bin folder (the worker's dll, deps and runtimeconfig are copied there; working directory = content root =
/// <see cref="AppContext.BaseDirectory"/>), configured by <c>PrintFarm__*</c> environment variables over the shipped
/// appsettings.json, its console output captured. It can be killed with SIGKILL (<see cref="KillAsync"/>), stopped
/// with SIGTERM (<see cref="StopAsync"/>) and started again on the same data folder and MQTT client id.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    /// <summary>The log line the worker writes once subscribed: from then on the broker routes messages to its session.</summary>
    public const string ConnectedLine = "Connected to MQTT broker";

    private readonly Dictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly StringBuilder _output = new();
    private Process? _process;

    private WorkerProcess(Dictionary<string, string> environment)
    {
        _environment = environment;
        DataFolder = environment["PrintFarm__DataFolder"];
    }

    /// <summary>The clustered mode's start line: it reads partitions, it does not subscribe to MQTT.</summary>
    public const string ClusterStartedLine = "Clustered mode:";

    /// <summary>The line a start waits for: <see cref="ConnectedLine"/>, or <see cref="ClusterStartedLine"/> when the settings turn the clustered mode on.</summary>
    public string ReadyLine => _environment.TryGetValue("PrintFarm__Cluster__Enabled", out var on) && on == "true" ? ClusterStartedLine : ConnectedLine;

    /// <summary>The worker's data folder (journal, checkpoint, spool, dead letters), kept across restarts.</summary>
    public string DataFolder { get; }

    /// <summary>How many times the process was started.</summary>
    public int Starts { get; private set; }

    /// <summary>Whether the current process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Every line every run printed, in order.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>What every run printed (capped), for failure messages.</summary>
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

    /// <summary>
    /// Settings of a test worker: a v1 InfluxDB database, a temp data folder, a fixed client id (so the broker keeps
    /// its session across kills), and short flush, checkpoint, batch and retry intervals.
    /// </summary>
    public static Dictionary<string, string> Settings(MosquittoServer broker, string influxUrl, string database, string clientId) => new(StringComparer.Ordinal)
    {
        ["PrintFarm__Farm"] = "test-farm",
        ["PrintFarm__DataFolder"] = ServerProcess.NewFolder("worker-process"),
        ["PrintFarm__Mqtt__Host"] = broker.Host,
        ["PrintFarm__Mqtt__Port"] = broker.Port.ToString(CultureInfo.InvariantCulture),
        ["PrintFarm__Mqtt__ClientId"] = clientId,
        ["PrintFarm__Health__Port"] = "0", // a free port: test workers run side by side, and a farm's own worker may hold 8080
        ["PrintFarm__Mqtt__ReconnectDelay"] = "00:00:00.2",
        ["PrintFarm__Mqtt__ReconnectMaxDelay"] = "00:00:01",
        ["PrintFarm__Influx__ApiVersion"] = "v1",
        ["PrintFarm__Influx__Url"] = influxUrl,
        ["PrintFarm__Influx__Database"] = database,
        ["PrintFarm__Influx__BatchInterval"] = "00:00:00.1",
        ["PrintFarm__Influx__RetryDelay"] = "00:00:00.1",
        ["PrintFarm__Influx__MaxRetries"] = "1",
        ["PrintFarm__Influx__Timeout"] = "00:00:02",
        ["PrintFarm__Influx__SpoolRetryInterval"] = "00:00:00.5",
        ["PrintFarm__FlushInterval"] = "00:00:00.2",
        ["PrintFarm__CheckpointInterval"] = "00:00:00.5",
    };

    /// <summary>Starts the worker and waits until it is subscribed.</summary>
    public static async Task<WorkerProcess> StartAsync(Dictionary<string, string> environment)
    {
        var worker = new WorkerProcess(environment);
        try
        {
            await worker.StartAgainAsync();
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }

        return worker;
    }

    /// <summary>Starts the process again (after a kill or stop) on the same data folder, and waits until it is subscribed.</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("the worker is still running");
        }

        var (process, connected, run) = Launch();
        var exited = process.WaitForExitAsync();
        var done = await Task.WhenAny(connected.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (done != connected.Task)
        {
            var why = done == exited ? $"exited with {process.ExitCode}" : "did not connect within 60 s";
            throw new InvalidOperationException($"worker run {run} {why}:\n{Output}");
        }
    }

    /// <summary>
    /// Starts a worker expected to refuse to start (a second one on a data folder, a damaged checkpoint) and waits for
    /// it to exit; returns its exit code. Nothing is deleted: the data folder may be another worker's.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(Dictionary<string, string> environment)
    {
        var worker = new WorkerProcess(environment);
        var (process, _, _) = worker.Launch();
        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, worker.Output);
        }
    }

    /// <summary>The current process's id.</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("never started");

    private (Process Process, TaskCompletionSource Connected, int Run) Launch()
    {
        _process?.Dispose();
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PrintFarm.Worker.dll"));
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("PrintFarm__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        Starts++;
        var run = Starts;
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Append(run, e.Data, connected);
        process.ErrorDataReceived += (_, e) => Append(run, e.Data, connected);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        return (process, connected, run);
    }

    /// <summary>Kills the worker as <c>kill -9</c> (or a power cut of the process) would: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: false);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Stops the worker gracefully (SIGTERM, as systemd or <c>docker stop</c>) and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        var process = _process ?? throw new InvalidOperationException("never started");
        if (!process.HasExited)
        {
            Signals.Terminate(process.Id);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
            await process.WaitForExitAsync(timeout.Token);
        }

        return process.ExitCode;
    }

    /// <summary>Lines of any run containing <paramref name="text"/>.</summary>
    public IReadOnlyList<string> LinesContaining(string text) => _lines.Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        try
        {
            Directory.Delete(DataFolder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a temp folder.
        }
    }

    // The host that runs this test process (set by dotnet test); else the one on PATH.
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private void Append(int run, string? line, TaskCompletionSource connected)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        if (line.Contains(ReadyLine, StringComparison.Ordinal))
        {
            connected.TrySetResult();
        }

        lock (_output)
        {
            if (_output.Length < 256 * 1024)
            {
                _output.Append('[').Append(run).Append("] ").AppendLine(line);
            }
        }
    }
}
