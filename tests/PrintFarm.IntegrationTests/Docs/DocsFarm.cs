using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Docs;

/// <summary>
/// The farm the docs' commands run against, set up once for <see cref="DocsCommandsTests"/>: its own Mosquitto and
/// InfluxDB 1.6 (database <c>printfarm</c>, as a farm's own would be), a home folder of its own (so
/// <c>~/.local/state/printfarm</c> in a command is the worker's real default data folder), and the worker started by
/// README's own-broker command itself. A short simulated farm is published through it, and two malformed messages
/// through <c>mosquitto_pub</c>, so the database holds real KPI windows and the data folder real dead letters.
/// </summary>
public sealed class DocsFarm : IAsyncLifetime
{
    /// <summary>The printer ids of the bad messages the farm receives, dead-lettered as <c>invalid_field</c>.</summary>
    public const string BadPrinter = "docs-bad-1";

    private readonly StringBuilder _workerOutput = new();
    private Process? _worker;

    public MosquittoServer Broker { get; private set; } = null!;

    public InfluxDbServer Influx { get; private set; } = null!;

    /// <summary>The commands' home folder.</summary>
    public string Home { get; } = ServerProcess.NewFolder("docs-home");

    /// <summary>The commands' working folder (files they write land here).</summary>
    public string Work { get; } = ServerProcess.NewFolder("docs-work");

    /// <summary>The worker's health port, for <c>127.0.0.1:8080</c> in a command.</summary>
    public int HealthPort { get; } = ServerProcess.FreePort();

    /// <summary>The InfluxDB database the worker writes (its default).</summary>
    public string Database => "printfarm";

    /// <summary>README's command that started the worker, as written there.</summary>
    public string WorkerCommand { get; private set; } = string.Empty;

    /// <summary>The payloads of the bad messages, in the order published.</summary>
    public IReadOnlyList<string> BadPayloads { get; } =
    [
        """{"type":"job_finished","ts":1769940000,"outcome":"completed","print_time_s":"long"}""",
        """{"type":"job_started","ts":1769940000,"quantity":0}""",
    ];

    public string WorkerOutput
    {
        get
        {
            lock (_workerOutput)
            {
                return _workerOutput.ToString();
            }
        }
    }

    /// <summary>The environment every command runs in: this process's, without its PrintFarm__ settings, plus the farm's.</summary>
    public Dictionary<string, string> Environment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (!key.StartsWith("PrintFarm__", StringComparison.OrdinalIgnoreCase) && !key.StartsWith("OTEL_", StringComparison.Ordinal) && key != "XDG_STATE_HOME")
            {
                environment[key] = (string)e.Value!;
            }
        }

        environment["HOME"] = Home;
        environment["DOTNET_ENVIRONMENT"] = "Production";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // What the docs' commands leave at their defaults and this farm cannot: the broker's port and the health
        // port are free ones here (another worker on this machine may hold 1883 or 8080).
        environment["PrintFarm__Mqtt__Port"] = Broker.Port.ToString(CultureInfo.InvariantCulture);
        environment["PrintFarm__Health__Port"] = HealthPort.ToString(CultureInfo.InvariantCulture);
        return environment;
    }

    public async Task InitializeAsync()
    {
        var broker = MosquittoServer.StartAsync();
        var influx = InfluxDbServer.StartAsync();
        Broker = await broker;
        Influx = await influx;
        await Influx.CreateDatabaseAsync(Database);
        WriteFiles();

        var readme = DocBlocks.Read("README.md").SelectMany(DocBlocks.Commands)
            .Single(c => DocCommandRules.IsWorkerService(c.Text));
        WorkerCommand = readme.Text;
        _worker = StartWorker(DocCommandRules.Substitute(readme.Text, this));
        await Eventually.Until(() => Task.FromResult(WorkerOutput), o => o.Contains(Support.WorkerProcess.ConnectedLine, StringComparison.Ordinal) || _worker.HasExited, "README's worker to connect", TimeSpan.FromSeconds(60));
        if (_worker.HasExited)
        {
            throw new InvalidOperationException($"README's worker ({readme.Text}) exited with {_worker.ExitCode}:\n{WorkerOutput}");
        }

        foreach (var payload in BadPayloads)
        {
            var (code, output) = await Shell.RunAsync($"mosquitto_pub -h 127.0.0.1 -p {Broker.Port} -q 1 -t printfarm/{BadPrinter}/event -m '{payload}'", Work, Environment(), TimeSpan.FromSeconds(20));
            Assert.True(code == 0, output);
        }

        // A short real farm: native printers over the last hours, published fast, through the real simulator.
        var start = DateTimeOffset.UtcNow.AddHours(-5).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var (simCode, simOutput) = await Shell.RunAsync(
            $"dotnet {DocCommandRules.Dll("PrintFarm.Simulator")} --host 127.0.0.1 --port {Broker.Port} --printers 4 --mix native --catalog quick --speed 3600 --seed 7 --duration 4h --start {start}",
            Work, Environment(), TimeSpan.FromSeconds(120));
        Assert.True(simCode == 0, simOutput);

        await Eventually.Until(
            () => Influx.QueryAsync(Database, "SELECT last(\"material_efficiency\") FROM \"kpi\" WHERE \"scope\" = 'printer' AND \"window\" = '1h' GROUP BY \"printer\""),
            rows => rows.Count >= 2,
            "the farm's per-printer KPI windows in InfluxDB",
            TimeSpan.FromSeconds(90),
            rows => rows.Format() + "\n" + WorkerOutput);
        await Eventually.Until(
            () => Task.FromResult(DeadLetterLines()),
            lines => lines >= BadPayloads.Count,
            "the bad messages in the worker's dead-letter files",
            TimeSpan.FromSeconds(30));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.Until(
            async () => (await http.GetAsync(new Uri($"http://127.0.0.1:{HealthPort}/readyz"))).StatusCode,
            s => s == System.Net.HttpStatusCode.OK,
            "README's worker to be ready",
            TimeSpan.FromSeconds(30));
    }

    /// <summary>Whether README's worker is still running.</summary>
    public bool WorkerRunning => _worker is { HasExited: false };

    public async Task DisposeAsync()
    {
        if (_worker is { HasExited: false })
        {
            _worker.Kill(entireProcessTree: true);
            await _worker.WaitForExitAsync();
        }

        _worker?.Dispose();
        await Broker.DisposeAsync();
        await Influx.DisposeAsync();
        foreach (var folder in new[] { Home, Work })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Best effort: temp folders.
            }
        }
    }

    private int DeadLetterLines()
    {
        var folder = Path.Combine(Home, ".local", "state", "printfarm", "deadletter");
        return Directory.Exists(folder) ? Directory.GetFiles(folder, "messages-*.jsonl").Sum(f => File.ReadAllLines(f).Length) : 0;
    }

    private Process StartWorker(string command)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Work };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        info.Environment.Clear();
        foreach (var (key, value) in Environment())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_workerOutput)
        {
            if (_workerOutput.Length < 256 * 1024)
            {
                _workerOutput.AppendLine(line);
            }
        }
    }

    // The files the docs' settings name (/etc/printfarm-telemetry/*.pem, /run/secrets/*), under the work folder: a CA,
    // certificates it signed for a broker and a client, and secret files.
    private void WriteFiles()
    {
        var etc = Directory.CreateDirectory(Path.Combine(Work, "etc", "printfarm-telemetry")).FullName;
        var secrets = Directory.CreateDirectory(Path.Combine(Work, "run", "secrets")).FullName;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Docs CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        File.WriteAllText(Path.Combine(etc, "ca.pem"), ca.ExportCertificatePem());
        foreach (var name in new[] { "broker", "worker" })
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name}.farm.lan", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName($"{name}.farm.lan");
            request.CertificateExtensions.Add(san.Build());
            using var cert = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), RandomNumberGenerator.GetBytes(8));
            File.WriteAllText(Path.Combine(etc, name + ".pem"), cert.ExportCertificatePem());
            File.WriteAllText(Path.Combine(etc, name + ".key"), key.ExportPkcs8PrivateKeyPem());
        }

        foreach (var secret in new[] { "mqtt-password", "influx-token", "influx-password", "prusa-01" })
        {
            File.WriteAllText(Path.Combine(secrets, secret), "docs-secret-" + secret + "\n");
        }
    }
}

/// <summary>Runs one command line with bash, bounded by a deadline; the process tree is killed when it passes.</summary>
internal static class Shell
{
    public static async Task<(int Code, string Output)> RunAsync(string command, string folder, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, bool syntaxOnly = false)
    {
        var (code, stdout, stderr) = await RunSplitAsync(command, folder, environment, timeout, syntaxOnly);
        return (code, stdout + stderr);
    }

    public static async Task<(int Code, string Stdout, string Stderr)> RunSplitAsync(string command, string folder, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, bool syntaxOnly = false)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
        if (syntaxOnly)
        {
            info.ArgumentList.Add("-n");
        }

        info.ArgumentList.Add("-o");
        info.ArgumentList.Add("pipefail");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        info.Environment.Clear();
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, await stdout, $"did not end within {timeout.TotalSeconds} s\n" + await stderr);
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
