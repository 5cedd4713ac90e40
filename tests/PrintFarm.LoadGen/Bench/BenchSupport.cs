using System.Diagnostics;
using System.Globalization;

namespace PrintFarm.LoadGen.Bench;

/// <summary>Command-line settings of <c>bench</c> (see <c>tests/load/run-bench.sh</c> for the meaning of each).</summary>
internal sealed record BenchOptions
{
    public int MqttPort { get; init; } = 1883;
    public string InfluxUrl { get; init; } = "http://127.0.0.1:8086";
    public int InfluxdPid { get; init; }
    public int MosquittoPid { get; init; }
    public string WorkerDll { get; init; } = "";
    public string WorkFolder { get; init; } = Path.GetTempPath();
    public IReadOnlyList<int> Printers { get; init; } = [1000, 10000];
    public int Messages { get; init; } = 200_000;
    public int Connections { get; init; } = 2;
    public byte Qos { get; init; }
    public int Window { get; init; } = 4096;
    public int InfluxBatch { get; init; } = 5000;
    public bool InfluxGzip { get; init; }
    public int InfluxParallel { get; init; } = 1;
    public bool SkipWorker { get; init; }
    public double LatencyRate { get; init; } = 10_000;
    public double LatencySeconds { get; init; } = 20;
    public TimeSpan MarkerEvery { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan LatencyPoll { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan LatencyDeadline { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan Stall { get; init; } = TimeSpan.FromSeconds(60);
    public int Repeat { get; init; } = 1;
    public int Warmup { get; init; } = 200_000;
    public string? ProfileFolder { get; init; }
    public int ProfilePrinters { get; init; } = 10000;
    public string Profiler { get; init; } = "dotnet";
    public bool Keep { get; init; }
    public bool RuntimeEnv { get; init; } = true;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var key = args[i].TrimStart('-');
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"--{key} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double Dbl() => double.Parse(Next(), CultureInfo.InvariantCulture);
            o = key switch
            {
                "mqtt-port" => o with { MqttPort = Int() },
                "influx" => o with { InfluxUrl = Next() },
                "influxd-pid" => o with { InfluxdPid = Int() },
                "mosquitto-pid" => o with { MosquittoPid = Int() },
                "worker-dll" => o with { WorkerDll = Next() },
                "work" => o with { WorkFolder = Next() },
                "printers" => o with { Printers = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                "messages" => o with { Messages = Int() },
                "connections" => o with { Connections = Int() },
                "qos" => o with { Qos = (byte)Int() },
                "window" => o with { Window = Int() },
                "influx-batch" => o with { InfluxBatch = Int() },
                "influx-gzip" => o with { InfluxGzip = true },
                "influx-parallel" => o with { InfluxParallel = Int() },
                "skip-worker" => o with { SkipWorker = true },
                "latency-rate" => o with { LatencyRate = Dbl() },
                "latency-seconds" => o with { LatencySeconds = Dbl() },
                "marker-every-ms" => o with { MarkerEvery = TimeSpan.FromMilliseconds(Dbl()) },
                "latency-deadline-s" => o with { LatencyDeadline = TimeSpan.FromSeconds(Dbl()) },
                "deadline-s" => o with { Deadline = TimeSpan.FromSeconds(Dbl()) },
                "stall-s" => o with { Stall = TimeSpan.FromSeconds(Dbl()) },
                "repeat" => o with { Repeat = Int() },
                "warmup" => o with { Warmup = Int() },
                "profile" => o with { ProfileFolder = Next() },
                "profile-printers" => o with { ProfilePrinters = Int() },
                "profiler" => o with { Profiler = Next() },
                "keep" => o with { Keep = true },
                "no-runtime-env" => o with { RuntimeEnv = false },
                _ => throw new ArgumentException($"unknown option --{key}"),
            };
        }

        if (o.Profiler is not ("dotnet" or "perf"))
        {
            throw new ArgumentException("--profiler is dotnet or perf");
        }

        if (o.Qos > 1 || o.Messages <= 0 || o.Connections <= 0 || o.Printers.Count == 0 || string.IsNullOrEmpty(o.WorkerDll))
        {
            throw new ArgumentException("bench needs --worker-dll, --qos 0|1, --messages > 0, --connections > 0 and --printers");
        }

        return o;
    }
}

/// <summary>CPU seconds of the broker, the database and (optionally) the worker at one moment.</summary>
internal readonly record struct CpuSnapshot(double Broker, double Database, double Worker, double BrokerWait, double DatabaseWait, double WorkerWait)
{
    public static CpuSnapshot Take(BenchOptions o, int workerPid = 0) =>
        new(Procfs.CpuSeconds(o.MosquittoPid), Procfs.CpuSeconds(o.InfluxdPid), Procfs.CpuSeconds(workerPid),
            Procfs.RunQueueSeconds(o.MosquittoPid), Procfs.RunQueueSeconds(o.InfluxdPid), Procfs.RunQueueSeconds(workerPid));

    public static CpuSnapshot operator -(CpuSnapshot a, CpuSnapshot b) =>
        new(a.Broker - b.Broker, a.Database - b.Database, a.Worker - b.Worker, a.BrokerWait - b.BrokerWait, a.DatabaseWait - b.DatabaseWait, a.WorkerWait - b.WorkerWait);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"CPU s (runnable but waiting for a CPU, s): mosquitto {Broker:F1} ({BrokerWait:F1}), influxd {Database:F1} ({DatabaseWait:F1}), worker {Worker:F1} ({WorkerWait:F1})");
}

/// <summary>The figures of one run at one printer count.</summary>
internal sealed class BenchRow
{
    public const string Header =
        "| printers | run | publisher alone (msg/s) | broker → bare subscriber (msg/s) | same points → InfluxDB (points/s) | worker, publish → all queryable (msg/s) | worker ÷ slower limit | worker cold, first stream after start-up (msg/s) | lost | worker peak RSS (MB) | latency p50 / p99 / max at 10k msg/s (s) | points sent per message | worker CPU per message (µs) | ceiling: a worker using no CPU ÷ slower limit |\n" +
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|";

    public int Printers { get; set; }
    public int Messages { get; set; }
    public int Warmup { get; set; }
    public int Run { get; set; }
    public double PublisherAlone { get; set; }
    public double BrokerPublish { get; set; }
    public long BrokerDelivered { get; set; }
    public double BrokerRate { get; set; }
    public CpuSnapshot BrokerCpu { get; set; }
    public long BrokerDroppedForSubscriber { get; set; }
    public double InfluxRate { get; set; }
    public CpuSnapshot InfluxCpu { get; set; }
    public HttpdStats InfluxRawHttpd { get; set; }
    public double WorkerColdRate { get; set; }
    public long WarmupLost { get; set; }
    public double WorkerPublish { get; set; }
    public double WorkerRate { get; set; }
    public double WorkerSeconds { get; set; }
    public CpuSnapshot WorkerCpu { get; set; }
    public HttpdStats WorkerHttpd { get; set; }
    public long WorkerDroppedByBroker { get; set; }
    public long Lost { get; set; }
    public long RssBefore { get; set; }
    public long PeakRssThroughput { get; set; }
    public long MaxRssSampled { get; set; }
    public long PeakRss { get; set; }
    public long Series { get; set; }
    public long MarkersSent { get; set; }
    public long MarkersSeen { get; set; }
    public long LatencyLoad { get; set; }
    public double P50 { get; set; }
    public double P99 { get; set; }
    public double LatencyMax { get; set; }
    public int WorkerLogWarnings { get; set; }

    public double SlowerLimit => Math.Min(BrokerRate, InfluxRate);

    /// <summary>The worker's CPU time per message of the measured stream, µs.</summary>
    public double WorkerMicrosPerMessage => WorkerCpu.Worker / Messages * 1e6;

    /// <summary>
    /// The best ratio any worker could have reached in this run: the broker and the database together needed
    /// <c>Broker + Database</c> CPU seconds for the stream, and the machine has <see cref="Environment.ProcessorCount"/>
    /// cores, so even a worker that used no CPU could not have made every point queryable sooner than that work ÷ cores.
    /// </summary>
    public double Ceiling => Messages / ((WorkerCpu.Broker + WorkerCpu.Database) / Environment.ProcessorCount) / SlowerLimit;

    /// <summary>What the worker may use per message, µs, for 0.8 × the slower limit with the broker and database as measured.</summary>
    public double BudgetFor08 => (Environment.ProcessorCount * Messages / (0.8 * SlowerLimit) - WorkerCpu.Broker - WorkerCpu.Database) / Messages * 1e6;

    public string Detail() => string.Create(CultureInfo.InvariantCulture, $"""
           publisher alone: {PublisherAlone:F0} msg/s
           (a) broker: published {BrokerPublish:F0} msg/s, delivered {BrokerDelivered}/{Messages} at {BrokerRate:F0} msg/s; dropped by the broker {BrokerDroppedForSubscriber}; {BrokerCpu}
           (b) InfluxDB raw: {InfluxRate:F0} points/s; {InfluxRawHttpd}; {InfluxCpu}
           (c) worker, cold (first stream after start-up, {Warmup} messages): {(Warmup > 0 ? WorkerColdRate.ToString("F0", CultureInfo.InvariantCulture) : "-")} msg/s, lost {WarmupLost}
           (c) worker, warm: published {WorkerPublish:F0} msg/s; all queryable after {WorkerSeconds:F2} s = {WorkerRate:F0} msg/s; InfluxDB received {WorkerHttpd} = {(double)WorkerHttpd.Points / Messages:F3} points/message, {(WorkerHttpd.Requests > 0 ? WorkerHttpd.Points / WorkerHttpd.Requests : 0)} points/request; dropped by the broker {WorkerDroppedByBroker}; {WorkerCpu}
           (d) worker ÷ slower limit = {WorkerRate / SlowerLimit:F2}; the worker used {WorkerMicrosPerMessage:F1} µs of CPU a message; the broker and the database needed {WorkerCpu.Broker + WorkerCpu.Database:F1} CPU s for the stream, so on {Environment.ProcessorCount} cores a worker using no CPU at all could have reached at most {Ceiling:F2}, and 0.8 leaves the worker {BudgetFor08:F1} µs a message
           (e) lost: {Lost} (all phases)
           (f) worker RSS: {RssBefore / 1e6:F0} MB idle before the stream, peak (VmHWM) {PeakRssThroughput / 1e6:F0} MB after the stream, {PeakRss / 1e6:F0} MB at the end; max sampled VmRSS {MaxRssSampled / 1e6:F0} MB
           (g) latency at {LatencyLoad + MarkersSent} messages offered at the fixed rate: markers {MarkersSeen}/{MarkersSent}, p50 {P50:F2} s, p99 {P99:F2} s, max {LatencyMax:F2} s
           series in the worker's database: {Series}; worker log warnings/errors: {WorkerLogWarnings}
        """);

    public string Markdown() => string.Create(CultureInfo.InvariantCulture,
        $"| {Printers:N0} | {Run} | {PublisherAlone:N0} | {BrokerRate:N0} | {InfluxRate:N0} | {WorkerRate:N0} | {WorkerRate / SlowerLimit:F2} | {(Warmup > 0 ? WorkerColdRate.ToString("N0", CultureInfo.InvariantCulture) : "-")} | {Lost:N0} | {PeakRss / 1e6:F0} | {P50:F2} / {P99:F2} / {LatencyMax:F2} | {(double)WorkerHttpd.Points / Messages:F2} | {WorkerMicrosPerMessage:F1} | {Ceiling:F2} |");
}

/// <summary>The worker as a real process: Release build, the user's settings plus connection settings, its own log file.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private volatile bool _sampling;

    private WorkerProcess(Process process, string logPath)
    {
        _process = process;
        LogPath = logPath;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string LogPath { get; }

    public long MaxRss { get; private set; }

    public static WorkerProcess Start(BenchOptions o, string db, string dataFolder, int printers)
    {
        Directory.CreateDirectory(dataFolder);
        var log = Path.Combine(dataFolder, "worker.log");
        var bin = Path.GetDirectoryName(Path.GetFullPath(o.WorkerDll))!;

        // exec: the shell becomes the worker, so the pid is the worker's own (for /proc and the profilers).
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec dotnet \"{Path.GetFullPath(o.WorkerDll)}\" >\"{log}\" 2>&1"])
        {
            // The content root is the working folder: run where appsettings.json is, as an installed worker would.
            WorkingDirectory = bin,
            UseShellExecute = false,
        };

        // Only what a user must set to point the worker at this broker and database, and what the operator of a farm
        // this size must set (the printer cap, sized for 1,000 printers by default: past it printers fold into
        // 'other'); everything else is the shipped appsettings.json and the defaults (docs/operations.md).
        psi.Environment["PrintFarm__Farm"] = Workload.Farm;
        psi.Environment["PrintFarm__DataFolder"] = dataFolder;
        psi.Environment["PrintFarm__Guards__MaxPrinters"] = Math.Max(2000, 2 * printers).ToString(CultureInfo.InvariantCulture);
        psi.Environment["PrintFarm__Health__Port"] = "0";
        psi.Environment["PrintFarm__Mqtt__Host"] = "127.0.0.1";
        psi.Environment["PrintFarm__Mqtt__Port"] = o.MqttPort.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PrintFarm__Mqtt__ClientId"] = $"bench-worker-{Guid.NewGuid():N}";
        psi.Environment["PrintFarm__Influx__ApiVersion"] = "v1";

        // The .NET runtime settings the service is installed with (the systemd unit's EnvironmentFile=, the image's
        // ENV): runtime.env, published beside the worker.
        var runtimeEnv = Path.Combine(bin, "runtime.env");
        var applied = new List<string>();
        if (o.RuntimeEnv && File.Exists(runtimeEnv))
        {
            foreach (var line in File.ReadLines(runtimeEnv).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                var eq = line.IndexOf('=', StringComparison.Ordinal);
                psi.Environment[line[..eq]] = line[(eq + 1)..];
                applied.Add(line);
            }
        }

        ThroughputBench.Say("   worker runtime settings (runtime.env): " + (applied.Count > 0 ? string.Join(' ', applied) : "none"));
        psi.Environment["PrintFarm__Influx__Url"] = o.InfluxUrl;
        psi.Environment["PrintFarm__Influx__Database"] = db;
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        if (o.ProfileFolder is not null && o.Profiler == "perf")
        {
            // JIT-compiled methods by name in perf's report (/tmp/perf-PID.map).
            psi.Environment["DOTNET_PerfMapEnabled"] = "1";
        }

        return new WorkerProcess(Process.Start(psi)!, log);
    }

    /// <summary>Samples VmRSS every 200 ms until <see cref="StopSampling"/> (bounded by 30 minutes).</summary>
    public Task SampleRssAsync(Stopwatch clock)
    {
        _sampling = true;
        return Task.Run(async () =>
        {
            while (_sampling && clock.Elapsed < TimeSpan.FromMinutes(30))
            {
                MaxRss = Math.Max(MaxRss, Procfs.Rss(Pid));
                await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            }
        });
    }

    public void StopSampling() => _sampling = false;

    public int CountLogLines(string marker)
    {
        try
        {
            return File.ReadLines(LogPath).Count(l => l.Contains($"[{marker}]", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>SIGTERM (a clean stop, as systemd would), then a kill after 30 s.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process.Dispose();
    }
}

/// <summary>
/// With <c>--profile DIR</c>, records the worker during the stream of the profiled printer count: dotnet-counters
/// (System.Runtime and the worker's meter, every second, CSV) and a dotnet-trace CPU sample of the first 20 s; with
/// <c>--profiler perf</c> instead, Linux <c>perf record -g</c> of the whole stream, user and kernel time, with the
/// JIT's symbols (the worker is then started with <c>DOTNET_PerfMapEnabled=1</c>; read it with
/// <c>perf report -i FILE --no-children</c>).
/// </summary>
internal sealed class Profiler : IAsyncDisposable
{
    private readonly List<Process> _tools = [];

    public static Profiler Start(BenchOptions o, int pid, int printers, int run)
    {
        var profiler = new Profiler();
        if (o.ProfileFolder is null || printers != o.ProfilePrinters)
        {
            return profiler;
        }

        Directory.CreateDirectory(o.ProfileFolder);
        var tools = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools");
        var p = pid.ToString(CultureInfo.InvariantCulture);
        var name = $"worker-{printers}-run{run}";
        if (o.Profiler == "perf")
        {
            profiler.Launch("perf", ["record", "-F", "999", "-g", "-p", p, "-o", Path.Combine(Path.GetFullPath(o.ProfileFolder), name + ".perf.data")], Path.Combine(o.ProfileFolder, name + "-perf.log"));
            return profiler;
        }

        profiler.Launch(Path.Combine(tools, "dotnet-counters"), ["collect", "-p", p, "--refresh-interval", "1", "--format", "csv", "-o", Path.Combine(o.ProfileFolder, name + "-counters.csv"),
            "--counters", "System.Runtime,PrintFarm.Telemetry"], Path.Combine(o.ProfileFolder, name + "-counters.log"));
        profiler.Launch(Path.Combine(tools, "dotnet-trace"), ["collect", "-p", p, "--profile", "dotnet-sampled-thread-time,dotnet-common", "--duration", "00:00:00:20", "-o", Path.Combine(o.ProfileFolder, name + ".nettrace")],
            Path.Combine(o.ProfileFolder, name + "-trace.log"));
        return profiler;
    }

    /// <summary>Gives the tools time to attach before the stream starts (nothing to wait for when not profiling).</summary>
    public Task AttachedAsync() => _tools.Count == 0 ? Task.CompletedTask : Task.Delay(TimeSpan.FromSeconds(4));

    public async ValueTask DisposeAsync()
    {
        foreach (var tool in _tools)
        {
            if (!tool.HasExited)
            {
                // SIGINT ends a collection cleanly (the file is closed).
                using (var kill = Process.Start("kill", ["-INT", tool.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    await kill.WaitForExitAsync().ConfigureAwait(false);
                }

                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await tool.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    tool.Kill();
                }
            }

            tool.Dispose();
        }

        _tools.Clear();
    }

    private void Launch(string file, string[] args, string log)
    {
        var quoted = string.Join(' ', args.Select(a => $"'{a}'"));
        _tools.Add(Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"exec '{file}' {quoted} >'{log}' 2>&1 </dev/null"]) { UseShellExecute = false })!);
    }
}
