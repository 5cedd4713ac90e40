using System.Text.Json;
using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Docs;

/// <summary>
/// How a doc command is checked. <see cref="Run"/>: run for real against <see cref="DocsFarm"/>, with the
/// substitutions of <see cref="DocCommandRules.Substitutions"/>; <see cref="NotHere"/>: it cannot run in a test (the
/// reason says why) and is checked without running — <c>bash -n</c> always, then <see cref="DocRule.Check"/> (the
/// verb, flag, file, filter or setting it names exists).
/// </summary>
internal enum DocRuleKind
{
    Run,
    NotHere,
}

/// <summary>One rule: the commands it matches (on the doc's text, before substitution), how, why, and the check.</summary>
/// <param name="Check">Returns null when the command is right, else what is wrong.</param>
internal sealed record DocRule(string Name, Regex Matches, DocRuleKind Kind, string Reason, Func<DocsFarm, DocCommand, Task<string?>> Check);

/// <summary>
/// The rules every shell command in the docs is checked by, and the placeholders substituted before one runs. A
/// command no rule matches fails <see cref="DocsCommandsTests"/>: a new command in the docs gets a rule here (run it
/// if it can run in a test; otherwise say why not and check what it names).
/// </summary>
internal static partial class DocCommandRules
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Placeholders of the docs and what a test runs instead, applied in order. The <c>./build.sh</c> verbs are what
    /// build.sh execs (<c>dotnet run --project src/X -c Release</c>), run as that project's built dll so the test
    /// does not rebuild the checkout (<see cref="DocsCommandsTests.Build_sh_runs_the_projects_the_substitutions_name"/>).
    /// </summary>
    public static IReadOnlyList<(string Placeholder, Func<DocsFarm, string> Value, string Why)> Substitutions { get; } =
    [
        ("./build.sh run", _ => "dotnet " + Dll("PrintFarm.Worker"), "build.sh: dotnet run --project src/PrintFarm.Worker -c Release"),
        ("./build.sh demo", _ => "dotnet " + Dll("PrintFarm.Demo"), "build.sh: dotnet run --project src/PrintFarm.Demo -c Release"),
        ("./build.sh sim", _ => "dotnet " + Dll("PrintFarm.Simulator"), "build.sh: dotnet run --project src/PrintFarm.Simulator -c Release"),
        ("./build.sh setup", _ => "dotnet " + Dll("PrintFarm.Setup"), "build.sh: dotnet run --project src/PrintFarm.Setup -c Release"),
        ("broker.local", _ => "127.0.0.1", "the farm's broker host: the test's Mosquitto (its port is in PrintFarm__Mqtt__Port)"),
        ("--port 1883", f => $"--port {f.Broker.Port}", "the broker's port: the test's Mosquitto listens on a free one"),
        ("http://influx:8086", f => f.Influx.Url, "the farm's InfluxDB: the test's InfluxDB 1.6"),
        ("127.0.0.1:8080", f => $"127.0.0.1:{f.HealthPort}", "the health port: a free one (PrintFarm__Health__Port)"),
        ("/etc/printfarm-telemetry/", f => Path.Combine(f.Work, "etc", "printfarm-telemetry") + "/", "certificates: a CA and certificates it signed, made by the test"),
        ("/run/secrets/", f => Path.Combine(f.Work, "run", "secrets") + "/", "secret files: made by the test"),
        ("…", _ => "docs-placeholder", "an elided secret"),
    ];

    /// <summary>The rules, first match wins. Extend here for a new command.</summary>
    public static IReadOnlyList<DocRule> All { get; } =
    [
        new("the worker, the farm's own broker and database",
            WorkerServiceRegex(), DocRuleKind.Run,
            string.Empty,
            (farm, c) => Task.FromResult(c.Text == farm.WorkerCommand && farm.WorkerRunning
                ? null
                : $"DocsFarm starts the worker with README's command ({farm.WorkerCommand}); it is not running:\n{farm.WorkerOutput}")),

        new("worker and tool help", Rx(@"^\./build\.sh (run|demo|sim|setup)( kpis)? --help$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var (code, output) = await RunAsync(farm, c);
            if (code != 0)
            {
                return $"exit {code}: {output}";
            }

            var missing = Flags(c.Comment).Where(f => !output.Contains(f, StringComparison.Ordinal)).ToList();
            return missing.Count == 0 ? null : $"the comment names {string.Join(", ", missing)}, which --help does not list:\n{output}";
        }),

        new("kpis", Rx(@"^\./build\.sh run kpis( [^>|;&]*)?( > (?<file>\S+))?$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            // "with the worker's settings" (README): the PrintFarm__ settings README's worker command starts with.
            var settings = string.Concat(farm.WorkerCommand.Split(' ').TakeWhile(w => w.StartsWith("PrintFarm__", StringComparison.Ordinal)).Select(w => w + " "));
            var (code, output) = await Shell.RunAsync(Substitute(settings + c.Text, farm), farm.Work, farm.Environment(), CommandTimeout);
            var file = Regex.Match(c.Text, @"> (\S+)$") is { Success: true } m ? Path.Combine(farm.Work, m.Groups[1].Value) : null;
            var table = file is null ? output : File.Exists(file) ? await File.ReadAllTextAsync(file) : string.Empty;
            var rows = table.Split('\n').Count(l => KpiRow().IsMatch(l));
            return code == 0 && rows > 0 ? null : $"exit {code}, {rows} KPI rows:\n{table}\n{output}";
        }),

        new("the demo", Rx(@"^\./build\.sh demo$"), DocRuleKind.NotHere,
            "runs a farm in a box until Ctrl-C, with a live board (Demo/DemoCommandTests run it to its end)",
            (_, c) => Task.FromResult(BuildShVerb(c))),

        new("the whole test suite", Rx(@"^\./build\.sh test$"), DocRuleKind.NotHere,
            "runs every test, this one included",
            (_, c) => Task.FromResult(BuildShVerb(c))),

        new("a simulator trace", Rx(@"^\./build\.sh sim .*--trace (\S+)$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var (code, output) = await RunAsync(farm, c);
            var file = Path.Combine(farm.Work, Regex.Match(c.Text, @"--trace (\S+)").Groups[1].Value);
            if (code != 0 || !File.Exists(file))
            {
                return $"exit {code}, no trace file {file}: {output}";
            }

            var lines = await File.ReadAllLinesAsync(file);
            return lines.Length > 0 && lines.All(l => JsonDocument.Parse(l).RootElement.ValueKind == JsonValueKind.Object) ? null : $"{file} is not JSON lines";
        }),

        new("the simulator against a broker", Rx(@"^\./build\.sh sim .*--host broker\.local"), DocRuleKind.Run,
            "it runs for the simulated duration at the given speed: the test runs it until it has published, then stops it",
            SimulatorPublishesAsync),

        new("history import", Rx(@"^\./build\.sh run import (trace|moonraker|octoprint-csv) \S+( --printer \S+)?$"), DocRuleKind.NotHere,
            "needs the farm's own history files; Import/ImportCommandTests runs each format against a real InfluxDB",
            (farm, c) => FlagsInHelpAsync(farm, c, "./build.sh run import --help")),

        new("setup of an InfluxDB 2.x", Rx(@"^\./build\.sh setup "), DocRuleKind.NotHere,
            "makes an InfluxDB 2.x ready (org, bucket, token, DBRP); the tests have InfluxDB 1.6 (PrintFarm.Setup.Tests run it against a 2.x stand-in)",
            (farm, c) => FlagsInHelpAsync(farm, c, "./build.sh setup --help")),

        new("benchmarks", Rx(@"^(\./build\.sh bench '(?<filter>[^']+)'|dotnet run -c Release --project tests/PrintFarm\.Benchmarks -- --filter '(?<filter>[^']+)'.*)$"), DocRuleKind.NotHere,
            "BenchmarkDotNet runs take minutes of the whole machine",
            (_, c) => Task.FromResult(BenchmarkFilterMatches(c))),

        new("load and bench scripts", Rx(@"^(WORKER_DLL=\S+ )?tests/load/run-(load|bench|cluster-load)\.sh( .*)?$"), DocRuleKind.NotHere,
            "load runs of minutes at the machine's full capacity (docs/benchmarks.md)",
            (_, c) => Task.FromResult(LoadScriptKnowsFlags(c))),

        new("other test runs", Rx(@"^(\w+=\S+ )?dotnet test (?<project>\S+) -c Release --filter ""?FullyQualifiedName~(?<name>\w+)""?$"), DocRuleKind.NotHere,
            "runs other test classes (each is run on its own)",
            (_, c) => Task.FromResult(TestFilterMatches(c))),

        new("the compose environment file", Rx(@"^cp \.env\.example \.env$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var folder = ComposeFolder(farm);
            var (code, output) = await Shell.RunAsync(Substitute(c.Text, farm), folder, farm.Environment(), CommandTimeout);
            return code == 0 && File.Exists(Path.Combine(folder, ".env")) ? null : $"exit {code}: {output}";
        }),

        new("the compose stack", Rx(@"^docker compose up -d --build$"), DocRuleKind.NotHere,
            "needs a Docker engine (Deploy/WorkerImageBuildContextTests runs the image's publish step); the test runs docker-compose config on the stack with docs/grafana.md's .env",
            ComposeConfigAsync),

        new("the clustered compose stack", Rx(@"^docker compose --profile cluster up -d --build --scale worker=0$"), DocRuleKind.NotHere,
            "needs a Docker engine; Deploy/ClusterProfileTests runs docker-compose config on the cluster profile and nats-server -t on deploy/nats/nats.conf",
            (_, _) => Task.FromResult<string?>(null)),

        new("InfluxDB 2.x CLI", Rx(@"^influx (bucket|v1 dbrp|auth|user) "), DocRuleKind.NotHere,
            "the InfluxDB 2.x CLI and server; the tests have InfluxDB 1.6",
            (_, _) => Task.FromResult<string?>(null)),

        new("dead letters with jq", Rx(@"^jq -r '[^']+' ~/\.local/state/printfarm/deadletter/messages-\*\.jsonl( \| .*)?$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var (code, stdout, stderr) = await Shell.RunSplitAsync(Substitute(c.Text, farm), farm.Work, farm.Environment(), CommandTimeout);
            if (code != 0 || stdout.Length == 0)
            {
                return $"exit {code}, output '{stdout}': {stderr}";
            }

            return c.Text.Contains("base64 -d", StringComparison.Ordinal)
                ? stdout == farm.BadPayloads[0] ? null : $"decoded '{stdout}', published '{farm.BadPayloads[0]}'"
                : stdout.Contains($"printfarm/{DocsFarm.BadPrinter}/event", StringComparison.Ordinal) ? null : $"no dead letter of {DocsFarm.BadPrinter}: {stdout}";
        }),

        new("readiness", Rx(@"^curl -s http://127\.0\.0\.1:8080/readyz( \| jq '(?<path>[^']+)')?$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var (code, stdout, stderr) = await Shell.RunSplitAsync(Substitute(c.Text, farm), farm.Work, farm.Environment(), CommandTimeout);
            if (code != 0)
            {
                return $"exit {code}: {stdout}{stderr}";
            }

            using var json = JsonDocument.Parse(stdout);
            return c.Text.Contains("jq", StringComparison.Ordinal)
                ? json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("status", out _) ? null : $"not a check: {stdout}"
                : json.RootElement.GetProperty("status").GetString() == "Healthy" ? null : $"not Healthy: {stdout}";
        }),

        new("the journal's quarantine", Rx(@"^(ls -l ~/\.local/state/printfarm/journal/quarantine/|for f in ~/\.local/state/printfarm/journal/quarantine/\*\.bad; .*)$"), DocRuleKind.NotHere,
            "the quarantine folder holds files only after the worker set a damaged journal record aside (Reliability/JournalDamageProcessTests); the test checks the journal is where the command looks",
            (farm, _) => Task.FromResult(Directory.Exists(Path.Combine(farm.Home, ".local", "state", "printfarm", "journal"))
                ? null
                : $"the worker's journal is not in ~/.local/state/printfarm/journal (home {farm.Home})")),

        new("certificates with openssl", Rx(@"^openssl (req|x509) "), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(farm.Work, "openssl")).FullName;
            var (code, output) = await Shell.RunAsync(Substitute(c.Text, farm), folder, farm.Environment(), CommandTimeout);
            return code == 0 ? null : $"exit {code}: {output}";
        }),

        new("an operator label over HTTP", Rx(@"^curl -s -X POST -H 'Content-Type: application/json' -d '(?<body>[^']+)' http://127\.0\.0\.1:8080/labels/[^/\s]+/\S+$"), DocRuleKind.Run, string.Empty, async (farm, c) =>
        {
            // The farm has no such job: the worker journals the label (202) and its pipeline dead-letters it.
            var (code, stdout, stderr) = await Shell.RunSplitAsync(Substitute(c.Text, farm), farm.Work, farm.Environment(), CommandTimeout);
            if (code != 0)
            {
                return $"exit {code}: {stdout}{stderr}";
            }

            using var json = JsonDocument.Parse(stdout);
            var body = System.Text.Encoding.UTF8.GetBytes(Regex.Match(c.Text, "-d '([^']+)'").Groups[1].Value);
            return json.RootElement.GetProperty("status").GetString() == "accepted" && PrintFarm.Core.Jobs.ReasonTracker.TryRead(body, out _, out _)
                ? null
                : $"not accepted, or not a label body: {stdout}";
        }),

        new("an operator label over MQTT", Rx(@"^mosquitto_pub -h broker\.local --port 1883 -q 1 -t printfarm/labels/[^/\s]+/\S+ -m '(?<body>[^']+)'$"), DocRuleKind.NotHere,
            "a label needs a failed job of the farm; Reasons/ReasonsEndToEndTests publishes labels to a real Mosquitto and checks the rewritten job points",
            (_, c) =>
            {
                var body = System.Text.Encoding.UTF8.GetBytes(Regex.Match(c.Text, "-m '([^']+)'$").Groups[1].Value);
                return Task.FromResult(PrintFarm.Core.Jobs.ReasonTracker.TryRead(body, out var parsed, out var problem) ? null : $"not a label body: {problem}");
            }),
    ];

    /// <summary>True for README's worker command: settings, then <c>./build.sh run</c> and nothing after it.</summary>
    public static bool IsWorkerService(string command) => WorkerServiceRegex().IsMatch(command);

    /// <summary>The command as a test runs it: every placeholder of <see cref="Substitutions"/> replaced.</summary>
    public static string Substitute(string command, DocsFarm farm)
    {
        foreach (var (placeholder, value, _) in Substitutions)
        {
            if (command.Contains(placeholder, StringComparison.Ordinal))
            {
                command = command.Replace(placeholder, value(farm), StringComparison.Ordinal);
            }
        }

        return command;
    }

    /// <summary>The built dll of a project in src/, in the configuration this test was built in.</summary>
    public static string Dll(string project)
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var folder = Path.Combine(GrafanaFiles.RepoRoot, "src", project, "bin", tfm.Parent!.Name, tfm.Name);
        var csproj = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "src", project, project + ".csproj"));
        var assembly = Regex.Match(csproj, "<AssemblyName>([^<]+)</AssemblyName>") is { Success: true } m ? m.Groups[1].Value : project;
        var dll = Path.Combine(folder, assembly + ".dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is not built: build PrintFarm.sln first");
    }

    /// <summary>The rule of a command, or null when none matches.</summary>
    public static DocRule? For(DocCommand command) => All.FirstOrDefault(r => r.Matches.IsMatch(command.Text));

    private static async Task<(int Code, string Output)> RunAsync(DocsFarm farm, DocCommand c) =>
        await Shell.RunAsync(Substitute(c.Text, farm), farm.Work, farm.Environment(), CommandTimeout);

    private static IEnumerable<string> Flags(string text) => Regex.Matches(text, @"(?<![\w-])--[a-z][\w-]*").Select(m => m.Value).Distinct();

    private static string? BuildShVerb(DocCommand c)
    {
        var verb = c.Text.Split(' ')[1];
        var script = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "build.sh"));
        return script.Contains($"\n  {verb})", StringComparison.Ordinal) ? null : $"build.sh has no '{verb}' verb";
    }

    private static async Task<string?> FlagsInHelpAsync(DocsFarm farm, DocCommand c, string help)
    {
        var (code, output) = await Shell.RunAsync(Substitute(help, farm), farm.Work, farm.Environment(), CommandTimeout);
        var missing = Flags(c.Text).Where(f => !output.Contains(f, StringComparison.Ordinal)).ToList();
        return code == 0 && missing.Count == 0 ? null : $"'{help}' (exit {code}) does not list {string.Join(", ", missing)}:\n{output}";
    }

    private static string? BenchmarkFilterMatches(DocCommand c)
    {
        var filter = Regex.Match(c.Text, "(--filter|bench) '([^']+)'").Groups[2].Value;
        var pattern = new Regex("^" + Regex.Escape(filter).Replace(@"\*", ".*", StringComparison.Ordinal) + "$");
        var names = Directory.GetFiles(Path.Combine(GrafanaFiles.RepoRoot, "tests", "PrintFarm.Benchmarks"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f =>
            {
                var text = File.ReadAllText(f);
                var ns = Regex.Match(text, @"^namespace ([\w.]+);", RegexOptions.Multiline).Groups[1].Value;
                return Regex.Matches(text, @"\bclass (\w+)").Select(m => $"{ns}.{m.Groups[1].Value}.Method");
            });
        return names.Any(pattern.IsMatch) ? null : $"--filter '{filter}' matches no benchmark class in tests/PrintFarm.Benchmarks";
    }

    private static string? LoadScriptKnowsFlags(DocCommand c)
    {
        var script = Regex.Match(c.Text, @"tests/load/run-[\w-]+\.sh").Value;
        var text = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, script));
        // The bench script hands what it does not parse to the load generator (tests/PrintFarm.LoadGen).
        var loadGen = string.Concat(Directory.GetFiles(Path.Combine(GrafanaFiles.RepoRoot, "tests", "PrintFarm.LoadGen"), "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText));
        var missing = Flags(c.Text).Where(f => !text.Contains(f + ")", StringComparison.Ordinal) && !loadGen.Contains($"\"{f[2..]}\"", StringComparison.Ordinal)).ToList();
        var variables = Regex.Matches(c.Text, @"^(\w+)=").Select(m => m.Groups[1].Value).Where(v => !text.Contains(v, StringComparison.Ordinal)).ToList();
        return missing.Count == 0 && variables.Count == 0 ? null : $"{script} reads no {string.Join(", ", missing.Concat(variables))}";
    }

    private static string? TestFilterMatches(DocCommand c)
    {
        var m = Regex.Match(c.Text, @"dotnet test (?<project>\S+) .*FullyQualifiedName~(?<name>\w+)");
        var project = Path.Combine(GrafanaFiles.RepoRoot, m.Groups["project"].Value);
        var name = m.Groups["name"].Value;
        if (!Directory.Exists(project))
        {
            return $"no test project {m.Groups["project"].Value}";
        }

        var found = Directory.GetFiles(project, "*.cs", SearchOption.AllDirectories).Any(f =>
        {
            var text = File.ReadAllText(f);
            return Regex.IsMatch(text, $@"\bclass {name}\w*|^namespace [\w.]*\b{name}\b", RegexOptions.Multiline);
        });
        var variables = Regex.Matches(c.Text, @"^(\w+)=").Select(v => v.Groups[1].Value)
            .Where(v => !Directory.GetFiles(project, "*.cs", SearchOption.AllDirectories).Any(f => File.ReadAllText(f).Contains($"\"{v}\"", StringComparison.Ordinal))).ToList();
        return found && variables.Count == 0 ? null : $"FullyQualifiedName~{name} names no test class or namespace, or no test reads {string.Join(", ", variables)}";
    }

    private static async Task<string?> SimulatorPublishesAsync(DocsFarm farm, DocCommand c)
    {
        await using var subscriber = await TestSubscriber.SubscribeAsync(farm.Broker, "#");
        var info = new System.Diagnostics.ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = farm.Work };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Substitute(c.Text, farm));
        info.Environment.Clear();
        foreach (var (key, value) in farm.Environment())
        {
            info.Environment[key] = value;
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await Eventually.Until(
                () => Task.FromResult(process.HasExited || subscriber.Messages.Any(m => !m.Retained && !m.Topic.StartsWith("printfarm/alerts/", StringComparison.Ordinal))),
                done => done,
                "the simulator to publish",
                TimeSpan.FromSeconds(30));
            return process.HasExited ? $"the simulator ended with {process.ExitCode} before publishing" : null;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            _ = await stdout + await stderr;
        }
    }

    // docker-compose.yml and what it names, copied, so `cp .env.example .env` writes no file into the checkout.
    private static string ComposeFolder(DocsFarm farm)
    {
        var folder = Path.Combine(farm.Work, "compose");
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            foreach (var file in Directory.GetFiles(GrafanaFiles.RepoRoot).Where(f => Path.GetFileName(f) is var n && (n.StartsWith("docker-compose", StringComparison.Ordinal) || n == ".env.example")))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }

            foreach (var dir in new[] { "deploy", "grafana" })
            {
                File.CreateSymbolicLink(Path.Combine(folder, dir), Path.Combine(GrafanaFiles.RepoRoot, dir));
            }
        }

        return folder;
    }

    // The stack's compose file with .env as docs/grafana.md says to fill it in: its settings block, placeholders
    // replaced by values.
    private static async Task<string?> ComposeConfigAsync(DocsFarm farm, DocCommand c)
    {
        var folder = ComposeFolder(farm);
        var settings = DocBlocks.Read(c.Block.File).Select(DocBlocks.Commands).Single(cs => cs.Count > 0 && cs.All(x => x.Text.StartsWith("MQTT_WORKER_PASSWORD=", StringComparison.Ordinal) || EnvAssignment().IsMatch(x.Text)) && cs.Any(x => x.Text.StartsWith("MQTT_WORKER_PASSWORD=", StringComparison.Ordinal)));
        var env = string.Join('\n', settings.Select(s => Regex.Replace(s.Text, "<[^>]+>", "docs-value")));
        await File.WriteAllTextAsync(Path.Combine(folder, ".env"), env + "\n");
        var (code, output) = await Shell.RunAsync("docker-compose -f docker-compose.yml config -q", folder, farm.Environment(), CommandTimeout);
        return code == 0 && output.Trim().Length == 0 ? null : $"docker-compose config (exit {code}): {output}";
    }

    private static Regex Rx(string pattern) => new(pattern, RegexOptions.CultureInvariant);

    /// <summary>NAME=value (a value in double quotes, or a &lt;placeholder&gt;, may hold blanks).</summary>
    [GeneratedRegex(@"^\w[\w-]*=(""[^""]*""|<[^>]*>|\S*)$")]
    public static partial Regex EnvAssignment();

    [GeneratedRegex(@"^(PrintFarm__\w+=\S+ )+\./build\.sh run$")]
    private static partial Regex WorkerServiceRegex();

    // A KPI row of the table (│ 1h │ …) or the CSV (1h,…).
    [GeneratedRegex(@"^(│ 1[hd] +│|1[hd],)")]
    private static partial Regex KpiRow();
}
