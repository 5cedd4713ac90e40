using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Alerts;

namespace PrintFarm.IntegrationTests.Docs;

/// <summary>
/// The docs, run verbatim (issue 19): every fenced block of README.md and docs/*.md and every InfluxQL query in their
/// prose is checked — shell commands run against a real farm (<see cref="DocsFarm"/>: the worker built from this
/// checkout, started by README's own command, a real Mosquitto and InfluxDB 1.6, a short simulated farm, real dead
/// letters) with the placeholders of <see cref="DocCommandRules.Substitutions"/>, or, where they cannot run here,
/// named with the reason and checked for what they name; settings blocks by <c>--check-config</c>; Mosquitto
/// configuration by a real Mosquitto; queries against the farm's data; JSON against what the worker writes. A block
/// of a kind this test does not know, or a command no rule matches, fails it.
/// </summary>
[Trait("Category", "Docs")]
public sealed class DocsCommandsTests(DocsFarm farm) : IClassFixture<DocsFarm>
{
    /// <summary>Fenced block kinds and what checks them; a kind not here fails <see cref="Every_block_is_of_a_kind_the_test_checks"/>.</summary>
    private static readonly Dictionary<string, string> Kinds = new(StringComparer.Ordinal)
    {
        ["sh"] = "shell commands: DocCommandRules, or a settings block: --check-config / docker-compose config",
        ["bash"] = "as sh",
        ["console"] = "as sh, the lines after a '$ ' prompt",
        ["json"] = "parsed, field names checked against what the worker writes or docs/schema",
        ["sql"] = "InfluxQL, run against the farm's data",
        ["influxql"] = "InfluxQL, run against the farm's data",
        ["conf"] = "Mosquitto configuration, loaded by a real Mosquitto",
        ["nats"] = "nats-server configuration, checked by a real nats-server (-t)",
        ["ini"] = "Moonraker's moonraker.conf: no Moonraker here; the status objects it names are the ones the worker reads",
        ["text"] = "a diagram or sample output: nothing to run",
    };

    private static readonly string[] ShellKinds = ["sh", "bash", "console"];

    [Fact]
    public void Every_block_is_of_a_kind_the_test_checks()
    {
        var blocks = DocBlocks.All();

        Assert.True(blocks.Count > 20, $"only {blocks.Count} blocks found");
        var unknown = blocks.Where(b => !Kinds.ContainsKey(b.Kind)).Select(b => b.ToString()).ToList();
        Assert.True(unknown.Count == 0, "blocks of a kind DocsCommandsTests does not check (add a kind, or tag the block):\n" + string.Join('\n', unknown));
    }

    [Fact]
    public async Task Every_shell_command_runs_or_is_named_with_why_not_and_checked()
    {
        var failures = new List<string>();
        var ran = 0;
        foreach (var block in DocBlocks.All().Where(b => ShellKinds.Contains(b.Kind)))
        {
            var commands = DocBlocks.Commands(block);
            if (IsSettingsBlock(commands))
            {
                continue; // Settings_blocks_…
            }

            foreach (var command in commands)
            {
                var rule = DocCommandRules.For(command);
                if (rule is null)
                {
                    failures.Add($"{command}\n  no rule in DocCommandRules: run it there, or name why it cannot run and check what it names");
                    continue;
                }

                if (rule.Kind == DocRuleKind.NotHere)
                {
                    Assert.False(string.IsNullOrWhiteSpace(rule.Reason), $"rule '{rule.Name}' gives no reason");
                    var (syntax, output) = await Shell.RunAsync(command.Text, farm.Work, farm.Environment(), TimeSpan.FromSeconds(10), syntaxOnly: true);
                    if (syntax != 0)
                    {
                        failures.Add($"{command}\n  bash -n: {output}");
                        continue;
                    }
                }
                else
                {
                    ran++;
                }

                if (await rule.Check(farm, command) is { } wrong)
                {
                    failures.Add($"{command}\n  [{rule.Name}] {wrong}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.True(ran >= 10, $"only {ran} commands ran");
    }

    [Fact]
    public async Task Settings_blocks_of_the_worker_are_valid_and_every_key_is_a_real_option()
    {
        var failures = new List<string>();
        var blocks = DocBlocks.All().Where(b => ShellKinds.Contains(b.Kind)).Select(b => DocBlocks.Commands(b))
            .Where(IsSettingsBlock).Where(cs => cs.All(c => c.Text.StartsWith("PrintFarm__", StringComparison.Ordinal))).ToList();
        Assert.True(blocks.Count >= 4, $"{blocks.Count} worker settings blocks");
        foreach (var commands in blocks)
        {
            var environment = farm.Environment();
            var keys = new List<string>();
            foreach (var c in commands)
            {
                var text = DocCommandRules.Substitute(c.Text, farm);
                var eq = text.IndexOf('=', StringComparison.Ordinal);
                keys.Add(text[..eq]);
                environment[text[..eq]] = text[(eq + 1)..].Trim('"');
            }

            var (code, stdout, stderr) = await Shell.RunSplitAsync($"dotnet {DocCommandRules.Dll("PrintFarm.Worker")} --check-config", farm.Work, environment, TimeSpan.FromSeconds(60));
            var where = commands[0].Block.ToString();
            if (code != 0)
            {
                failures.Add($"{where}: --check-config exit {code}:\n{stdout}{stderr}");
                continue;
            }

            var json = stdout[stdout.IndexOf('{', StringComparison.Ordinal)..stdout.LastIndexOf('}')] + "}";
            var effective = JsonNode.Parse(json)!;
            foreach (var key in keys)
            {
                JsonNode? node = effective;
                foreach (var part in key.Split("__"))
                {
                    node = node is JsonObject o ? o.FirstOrDefault(p => string.Equals(p.Key, part, StringComparison.OrdinalIgnoreCase)).Value : null;
                }

                if (node is null)
                {
                    failures.Add($"{where}: {key} is no option of the worker (not in --check-config's effective configuration)");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Settings_blocks_of_the_compose_stack_name_only_keys_of_env_example()
    {
        var example = File.ReadAllLines(Path.Combine(GrafanaFiles.RepoRoot, ".env.example"))
            .Select(l => l.TrimStart('#', ' ')).Where(l => DocCommandRules.EnvAssignment().IsMatch(l)).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).ToHashSet(StringComparer.Ordinal);
        var blocks = DocBlocks.All().Where(b => ShellKinds.Contains(b.Kind)).Select(b => DocBlocks.Commands(b))
            .Where(IsSettingsBlock).Where(cs => !cs.All(c => c.Text.StartsWith("PrintFarm__", StringComparison.Ordinal))).ToList();

        Assert.NotEmpty(blocks);
        var unknown = blocks.SelectMany(cs => cs).Where(c => !example.Contains(c.Text[..c.Text.IndexOf('=', StringComparison.Ordinal)])).Select(c => c.ToString()).ToList();
        Assert.True(unknown.Count == 0, "not in .env.example:\n" + string.Join('\n', unknown));
    }

    [Fact]
    public async Task Every_influxql_query_parses_and_returns_rows_from_a_real_farms_data()
    {
        var printer = (await farm.Influx.QueryAsync(farm.Database, "SHOW TAG VALUES FROM \"printer\" WITH KEY = \"printer\"")).Select(r => r.Text("value")).First(p => p is not null && p != DocsFarm.BadPrinter)!;
        var now = DateTimeOffset.UtcNow;
        var queries = DocBlocks.InlineQueries().Select(q => (Where: q.ToString(), q.Text))
            .Concat(DocBlocks.All().Where(b => b.Kind is "sql" or "influxql").SelectMany(b => b.Text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => (Where: b.ToString(), Text: t))))
            .ToList();

        Assert.True(queries.Count >= 3, $"{queries.Count} queries");
        var failures = new List<string>();
        foreach (var (where, text) in queries)
        {
            // As Grafana sends it over the last day; a doc's own placeholders as the test's values.
            var query = new GrafanaTemplate(now.AddDays(-1), now, TimeSpan.FromHours(1)).Render(
                text.Replace("<last seen>", "now() - 1d", StringComparison.Ordinal).Replace("'bench-marker'", $"'{printer}'", StringComparison.Ordinal));
            try
            {
                var rows = await farm.Influx.QueryAsync(farm.Database, query);
                if (rows.Count == 0)
                {
                    failures.Add($"{where}\n  no rows: {query}");
                }
            }
            catch (InvalidOperationException ex)
            {
                failures.Add($"{where}\n  {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Every_json_block_parses_and_names_the_fields_the_worker_writes_or_the_schema_allows()
    {
        var alert = new FarmDay("main-farm").Alerts[0];
        var alertFields = AlertMessages.Json("main-farm", alert).Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "docs", "schema", "native-event.schema.json")));
        var nativeFields = schema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        using var orderSchema = JsonDocument.Parse(File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "docs", "schema", "order.schema.json")));
        var orderFields = orderSchema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var notificationFields = NotificationMessages.Json("main-farm", new PrintFarm.Core.Notifications.Notification(PrintFarm.Core.Notifications.NotificationKind.Failed, "mk4-02", DateTimeOffset.UnixEpoch, "m"))
            .Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var failures = new List<string>();
        var blocks = DocBlocks.All().Where(b => b.Kind == "json").ToList();

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            JsonObject json;
            try
            {
                json = JsonNode.Parse(block.Text)!.AsObject();
            }
            catch (JsonException ex)
            {
                failures.Add($"{block}: not JSON: {ex.Message}");
                continue;
            }

            var fields = json.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
            if (fields.Contains("rule") && fields.Contains("state"))
            {
                if (!fields.SetEquals(alertFields))
                {
                    failures.Add($"{block}: an alert message; the worker writes {string.Join(",", alertFields.Order(StringComparer.Ordinal))}, the doc shows {string.Join(",", fields.Order(StringComparer.Ordinal))}");
                }
            }
            else if (fields.Contains("kind") && fields.Contains("idempotency_key"))
            {
                if (!fields.SetEquals(notificationFields))
                {
                    failures.Add($"{block}: a notification; the worker writes {string.Join(",", notificationFields.Order(StringComparer.Ordinal))}, the doc shows {string.Join(",", fields.Order(StringComparer.Ordinal))}");
                }
            }
            else if (fields.Contains("PrintFarm"))
            {
                // A piece of appsettings.json: PrintFarmOptions must have each section it names.
                foreach (var section in json["PrintFarm"]!.AsObject().Select(p => p.Key))
                {
                    if (typeof(PrintFarm.Worker.Configuration.PrintFarmOptions).GetProperty(section) is null)
                    {
                        failures.Add($"{block}: PrintFarm:{section} is not a setting");
                    }
                }
            }
            else if (fields.Contains("due") && fields.Contains("lines"))
            {
                // An order (docs/schema/order.schema.json): the worker's own reader must accept it.
                var check = PrintFarm.Core.Orders.OrderBook.Check("docs", System.Text.Encoding.UTF8.GetBytes(block.Text), DateTimeOffset.UnixEpoch);
                var unknown = fields.Where(f => !orderFields.Contains(f)).ToList();
                if (!check.Accepted || unknown.Count > 0)
                {
                    failures.Add($"{block}: an order the worker would reject ({check.Reason} {check.Detail}) or with fields docs/schema/order.schema.json does not have: {string.Join(", ", unknown)}");
                }
            }
            else if (fields.Contains("type") && fields.Contains("ts"))
            {
                var unknown = fields.Where(f => !nativeFields.Contains(f)).ToList();
                if (unknown.Count > 0)
                {
                    failures.Add($"{block}: a native event with fields docs/schema/native-event.schema.json does not have: {string.Join(", ", unknown)}");
                }
            }
            else if (fields.Contains("maintenance"))
            {
                // The operator's maintenance switch: the worker's own adapter must accept it as shown.
                var adapter = new PrintFarm.Core.Ingestion.Maintenance.MaintenanceAdapter();
                var topic = "printfarm/maintenance/mk4-01";
                Assert.True(adapter.Topics[0].TryMatch(topic, out var match));
                var result = adapter.Process(new PrintFarm.Core.Ingestion.InboundMessage(topic, System.Text.Encoding.UTF8.GetBytes(block.Text), true, DateTimeOffset.UtcNow), match, []);
                if (!result.Accepted)
                {
                    failures.Add($"{block}: a maintenance switch the worker rejects");
                }
            }
            else
            {
                failures.Add($"{block}: JSON of a shape this test does not know (add it with what it is checked against)");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_nats_server_configuration_block_is_valid_for_a_real_nats_server()
    {
        var natsServer = ServerProcess.Find("nats-server") ?? throw ContainerFallback.Missing("nats-server", "nats-server");
        var blocks = DocBlocks.All().Where(b => b.Kind == "nats").ToList();
        Assert.NotEmpty(blocks);
        var failures = new List<string>();
        foreach (var block in blocks)
        {
            var file = Path.Combine(ServerProcess.NewFolder("docs-nats"), "nats.conf");
            await File.WriteAllTextAsync(file, block.Text);
            var (exit, output) = await Shell.RunAsync($"{natsServer} -c {file} -t", Path.GetDirectoryName(file)!, farm.Environment(), TimeSpan.FromSeconds(20));
            if (exit != 0)
            {
                failures.Add($"{block}: {output}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_mosquitto_configuration_block_is_loaded_by_a_real_mosquitto()
    {
        var mosquitto = ServerProcess.Find("mosquitto") ?? throw ContainerFallback.Missing("mosquitto", "mosquitto");
        var etc = Path.Combine(farm.Work, "etc", "printfarm-telemetry");
        var blocks = DocBlocks.All().Where(b => b.Kind == "conf").ToList();
        Assert.True(blocks.Count >= 3, $"{blocks.Count} conf blocks");
        var failures = new List<string>();
        foreach (var block in blocks)
        {
            var folder = ServerProcess.NewFolder("docs-mosquitto");
            var port = ServerProcess.FreePort();
            var passwd = Path.Combine(folder, "passwd");
            var (made, madeOutput) = await Shell.RunAsync($"mosquitto_passwd -b -c {passwd} printfarm-worker docs-password", folder, farm.Environment(), TimeSpan.FromSeconds(20));
            Assert.True(made == 0, madeOutput);
            // The doc's paths and hosts as files and ports of this test; Mosquitto stays root to read them.
            var text = block.Text
                .Replace("listener 8883", $"listener {port} 127.0.0.1", StringComparison.Ordinal)
                .Replace("/etc/mosquitto/passwd", passwd, StringComparison.Ordinal)
                .Replace("/etc/mosquitto/certs/bambu-ca.pem", Path.Combine(etc, "ca.pem"), StringComparison.Ordinal)
                .Replace("/etc/mosquitto/certs/", etc + "/", StringComparison.Ordinal)
                .Replace("192.168.1.50:8883", $"127.0.0.1:{ServerProcess.FreePort()}", StringComparison.Ordinal)
                .Replace("<LAN access code>", "docs-code", StringComparison.Ordinal);
            var config = new List<string>();
            if (Environment.UserName == "root")
            {
                config.Add("user root");
            }

            config.Add(text);
            if (!text.Contains($"listener {port} ", StringComparison.Ordinal))
            {
                config.Add($"listener {port} 127.0.0.1");
                config.Add("allow_anonymous true");
            }

            if (text.Contains("persistence true", StringComparison.Ordinal))
            {
                config.Add($"persistence_location {folder}/");
            }

            var file = Path.Combine(folder, "mosquitto.conf");
            await File.WriteAllLinesAsync(file, config);
            try
            {
                await using var server = await ServerProcess.StartAsync(mosquitto, ["-c", file], folder, () => ServerProcess.AcceptsTcpAsync(port), TimeSpan.FromSeconds(20));
                if (Regex.IsMatch(server.Output, @"\bError: "))
                {
                    failures.Add($"{block}: {server.Output}");
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                failures.Add($"{block}: Mosquitto did not load it: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Moonraker_configuration_names_only_status_objects_the_worker_reads()
    {
        var source = string.Concat(Directory.GetFiles(Path.Combine(GrafanaFiles.RepoRoot, "src", "PrintFarm.Core", "Ingestion", "Moonraker"), "*.cs").Select(File.ReadAllText));
        var blocks = DocBlocks.All().Where(b => b.Kind == "ini").ToList();

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var lines = block.Text.Split('\n');
            Assert.Matches(@"^\[\w+\]$", lines[0]);
            var objects = lines.SkipWhile(l => !l.StartsWith("status_objects:", StringComparison.Ordinal)).Skip(1).TakeWhile(l => l.StartsWith(' ')).Select(l => l.Trim().Split('=')[0]).ToList();
            Assert.Contains("print_stats", objects);
            Assert.All(objects, o => Assert.Contains($"\"{o}\"", source, StringComparison.Ordinal));
            Assert.All(lines.Skip(1).Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith(' ')), l => Assert.Matches(@"^\w+: ", l + " "));
        }
    }

    [Fact]
    public void Build_sh_runs_the_projects_the_substitutions_name()
    {
        var script = File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "build.sh"));
        foreach (var (verb, project) in new[] { ("demo", "PrintFarm.Demo"), ("sim", "PrintFarm.Simulator"), ("run", "PrintFarm.Worker"), ("setup", "PrintFarm.Setup") })
        {
            Assert.Matches(new Regex($@"\n  {verb}\)\n    shift\n    exec dotnet run --project src/{Regex.Escape(project)} -c Release -- ""\$@""\n"), script);
            Assert.Contains(DocCommandRules.Substitutions, s => s.Placeholder == $"./build.sh {verb}" && s.Value(farm) == "dotnet " + DocCommandRules.Dll(project));
        }
    }

    [Fact]
    public void The_extractor_reads_indented_fences_continuations_and_comments()
    {
        var block = new DocBlock("x.md", 1, "sh", "a --b 'c # d' \\\n  --e f   # g\n# h\n\nk=\"l m\"");

        var commands = DocBlocks.Commands(block);

        Assert.Equal(["a --b 'c # d' --e f", "k=\"l m\""], commands.Select(c => c.Text));
        Assert.Equal("g", commands[0].Comment);
        Assert.Equal(2, commands[0].Line);
        Assert.Contains(DocBlocks.All(), b => b.File == "docs/operations.md" && b.Kind == "sh" && b.Text.StartsWith("openssl req", StringComparison.Ordinal));
        Assert.Contains(DocBlocks.InlineQueries(), q => q.File == "docs/data-model.md" && q.Text.Contains("$timeFilter", StringComparison.Ordinal));
    }

    private static bool IsSettingsBlock(IReadOnlyList<DocCommand> commands) =>
        commands.Count > 0 && commands.All(c => DocCommandRules.EnvAssignment().IsMatch(c.Text));
}
