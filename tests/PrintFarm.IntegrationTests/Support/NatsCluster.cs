using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// A server-side subject mapping (nats-server <c>mappings</c>): messages published on <see cref="Source"/> are
/// delivered, and stored by streams, under <see cref="Destination"/>. It applies to MQTT publishes too.
/// </summary>
/// <param name="Source">The subject filter mapped, e.g. <c>printers.*.&gt;</c>.</param>
/// <param name="Destination">The destination template, e.g. <c>parts.{{partition(8,1)}}.printers.{{wildcard(1)}}.&gt;</c>.</param>
public sealed record NatsMapping(string Source, string Destination)
{
    /// <summary>
    /// <c>&lt;prefix&gt;.&lt;printer&gt;.&lt;rest&gt;</c> to <c>&lt;partitionPrefix&gt;.&lt;n&gt;.&lt;prefix&gt;.&lt;printer&gt;.&lt;rest&gt;</c>,
    /// where n = <c>partition(P, printer)</c>: the printer token (the first wildcard) alone decides the partition.
    /// </summary>
    public static NatsMapping Partitioned(int partitions, string prefix = "printers", string partitionPrefix = "parts")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return new NatsMapping(
            $"{prefix}.*.>",
            $"{partitionPrefix}.{{{{partition({partitions.ToString(CultureInfo.InvariantCulture)},1)}}}}.{prefix}.{{{{wildcard(1)}}}}.>");
    }
}

/// <summary>One node of a <see cref="NatsCluster"/>: its fixed loopback ports and its JetStream folder.</summary>
public sealed class NatsNode
{
    internal NatsNode(int index, string folder)
    {
        Index = index;
        Name = $"n{index.ToString(CultureInfo.InvariantCulture)}";
        Folder = folder;
        ClientPort = ServerProcess.FreePort();
        MqttPort = ServerProcess.FreePort();
        ClusterPort = ServerProcess.FreePort();
        MonitorPort = ServerProcess.FreePort();
    }

    /// <summary>Position in <see cref="NatsCluster.Nodes"/>.</summary>
    public int Index { get; }

    /// <summary>The <c>server_name</c>, as JetStream names stream and consumer leaders (<c>n0</c>, <c>n1</c>, …).</summary>
    public string Name { get; }

    /// <summary>The node's folder: its configuration and its JetStream store (kept across a restart).</summary>
    public string Folder { get; }

    /// <summary>NATS client port.</summary>
    public int ClientPort { get; }

    /// <summary>MQTT 3.1.1 listener port.</summary>
    public int MqttPort { get; }

    /// <summary>Route port between the nodes.</summary>
    public int ClusterPort { get; }

    /// <summary>HTTP monitoring port (<c>/healthz</c>, <c>/jsz</c>, <c>/varz</c>).</summary>
    public int MonitorPort { get; }

    /// <summary>The NATS URL of this node alone.</summary>
    public string ClientUrl => $"nats://127.0.0.1:{ClientPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Whether the node's process is running (true while it is paused).</summary>
    public bool IsRunning => Process?.IsRunning == true;

    /// <summary>Whether the node is frozen by <see cref="NatsCluster.PauseNode"/>.</summary>
    public bool IsPaused { get; internal set; }

    internal ServerProcess? Process { get; set; }

    internal string ConfigPath => Path.Combine(Folder, "nats.conf");

    /// <summary>The node's log file, appended to across restarts.</summary>
    public string LogPath => Path.Combine(Folder, "nats.log");
}

/// <summary>
/// A real nats-server cluster (Debian package <c>nats-server</c>, 2.9.10) on free loopback ports in a temp folder:
/// three nodes by default, each with JetStream (so streams and KV buckets can be R3) and its MQTT listener, and the
/// same server <c>mappings</c> on every node. A node can be stopped (SIGTERM), killed (SIGKILL), paused (SIGSTOP),
/// resumed and restarted on its ports and store. Every process is killed and the folder removed on dispose; the
/// nodes' logs go into failure messages (<see cref="Logs"/>, <see cref="LogLines"/>). No container fallback: the tests that need it say so.
/// </summary>
public sealed class NatsCluster : IAsyncDisposable
{
    private const int LogTail = 8 * 1024;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _executable;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private NatsCluster(string executable, string folder, IReadOnlyList<NatsNode> nodes, IReadOnlyList<NatsMapping> mappings)
    {
        _executable = executable;
        Folder = folder;
        Nodes = nodes;
        Mappings = mappings;
    }

    /// <summary>The cluster's temp folder (one subfolder per node).</summary>
    public string Folder { get; }

    /// <summary>The nodes, by index.</summary>
    public IReadOnlyList<NatsNode> Nodes { get; }

    /// <summary>The server mappings every node runs.</summary>
    public IReadOnlyList<NatsMapping> Mappings { get; }

    /// <summary>All nodes' NATS URLs, comma-separated, as NATS clients take a seed list.</summary>
    public string ClientUrl => string.Join(',', Nodes.Select(n => n.ClientUrl));

    /// <summary>The last lines of every node's log, earlier runs included (for failure messages).</summary>
    public string Logs
    {
        get
        {
            var all = new StringBuilder();
            foreach (var node in Nodes)
            {
                var log = ReadLog(node);
                all.Append("--- ").Append(node.Name).AppendLine(" ---");
                all.Append(log.Length > LogTail ? log[^LogTail..] : log);
                all.Append(node.Process?.Output);
            }

            return all.ToString();
        }
    }

    /// <summary>The lines of every node's whole log that contain <paramref name="text"/>.</summary>
    public IReadOnlyList<string> LogLines(string text) =>
        Nodes.SelectMany(n => ReadLog(n).Split('\n')).Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();

    /// <summary>
    /// A NATS client connected to <paramref name="url"/> (default: any node). Pass one node's URL when a test freezes
    /// another: a client on a frozen node notices only once its pings fail.
    /// </summary>
    public async Task<NATS.Client.Core.NatsConnection> ConnectAsync(string? url = null, string name = "printfarm-tests")
    {
        var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = url ?? ClientUrl, Name = name });
        await connection.ConnectAsync();
        return connection;
    }

    /// <summary>
    /// Starts <paramref name="size"/> nodes with <paramref name="mappings"/> and waits until every node is healthy
    /// and agrees on a JetStream meta leader.
    /// </summary>
    public static async Task<NatsCluster> StartAsync(IReadOnlyList<NatsMapping>? mappings = null, int size = 3)
    {
        try
        {
            return await StartOnceAsync(mappings, size);
        }
        catch (NodeExitedException)
        {
            // Twelve ports chosen free can still be taken by another process before a node binds them; the second
            // try has new ports and a new folder. A node that exits again is a real failure, reported with its log.
            return await StartOnceAsync(mappings, size);
        }
    }

    private static async Task<NatsCluster> StartOnceAsync(IReadOnlyList<NatsMapping>? mappings, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var executable = ServerProcess.Find("nats-server") ?? throw ContainerFallback.Missing("nats-server", "nats-server");
        var folder = ServerProcess.NewFolder("nats-cluster");
        var nodes = Enumerable.Range(0, size).Select(i => new NatsNode(i, Path.Combine(folder, $"n{i}"))).ToList();
        var cluster = new NatsCluster(executable, folder, nodes, mappings ?? []);
        try
        {
            foreach (var node in nodes)
            {
                Directory.CreateDirectory(node.Folder);
                await File.WriteAllTextAsync(node.ConfigPath, cluster.Config(node));
            }

            // A node alone is not ready (JetStream waits for its routes and a meta leader): start all, then poll all.
            await Task.WhenAll(nodes.Select(cluster.StartProcessAsync));
            await cluster.WaitUntilHealthyAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits until every running, unpaused node answers <c>/healthz</c> with 200 and names the same JetStream meta
    /// leader; fails with the nodes' logs at the deadline.
    /// </summary>
    public async Task WaitUntilHealthyAsync(TimeSpan? timeout = null, bool serverOnly = false)
    {
        var limit = timeout ?? StartTimeout;
        var deadline = DateTime.UtcNow + limit;
        var last = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            var states = new List<string>();
            string? leader = null;
            var healthy = true;
            foreach (var node in Nodes.Where(n => n.IsRunning && !n.IsPaused))
            {
                var (ok, metaLeader) = await ProbeAsync(node, serverOnly);
                states.Add($"{node.Name}: healthz {(ok ? "ok" : "not ok")}, meta leader '{metaLeader}'");
                // A single node has no meta group to report.
                var agreed = Nodes.Count == 1 || (!string.IsNullOrEmpty(metaLeader) && (leader is null || leader == metaLeader));
                healthy &= ok && agreed;
                leader ??= metaLeader;
            }

            if (healthy)
            {
                return;
            }

            last = string.Join("; ", states);
            await Task.Delay(Eventually.PollInterval);
        }

        throw new TimeoutException($"NATS cluster not healthy within {limit} ({last}):\n{Logs}");
    }

    /// <summary>Stops node <paramref name="index"/> gracefully (SIGTERM); its store stays for <see cref="RestartNodeAsync"/>.</summary>
    public async Task StopNodeAsync(int index)
    {
        var node = Nodes[index];
        if (node.IsPaused)
        {
            ResumeNode(index);
        }

        await Running(node).TerminateAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Kills node <paramref name="index"/> (SIGKILL): no goodbye to its peers, unsynced writes lost.</summary>
    public Task KillNodeAsync(int index)
    {
        var node = Nodes[index];
        node.IsPaused = false;
        return Running(node).KillAsync();
    }

    /// <summary>Freezes node <paramref name="index"/> (SIGSTOP): its sockets stay open, it answers nothing.</summary>
    public void PauseNode(int index)
    {
        var node = Nodes[index];
        Running(node).Pause();
        node.IsPaused = true;
    }

    /// <summary>Lets a node frozen by <see cref="PauseNode"/> run again (SIGCONT).</summary>
    public void ResumeNode(int index)
    {
        var node = Nodes[index];
        Running(node).Resume();
        node.IsPaused = false;
    }

    /// <summary>
    /// Starts a stopped or killed node again on its ports and JetStream store, and waits until the cluster is healthy.
    /// </summary>
    /// <remarks>
    /// With <paramref name="serverOnly"/>, healthy means JetStream on every node is current with the meta leader; a
    /// node killed under load can take minutes more before every replica of every stream and consumer is current
    /// (nats-server 2.9.10 reports its MQTT retained-message consumer not current for long), and R3 streams serve
    /// with two of three meanwhile.
    /// </remarks>
    public async Task RestartNodeAsync(int index, TimeSpan? healthyWithin = null, bool serverOnly = false)
    {
        var node = Nodes[index];
        if (node.IsRunning)
        {
            throw new InvalidOperationException($"{node.Name} is still running: stop or kill it first");
        }

        if (node.Process is { } old)
        {
            await old.DisposeAsync();
            node.Process = null;
        }

        await StartProcessAsync(node);
        await WaitUntilHealthyAsync(healthyWithin, serverOnly);
    }

    /// <summary>The node that leads stream <paramref name="stream"/> right now, as the first node that knows says; null if none.</summary>
    public async Task<NatsNode?> StreamLeaderAsync(string stream)
    {
        foreach (var node in Nodes.Where(n => n.IsRunning && !n.IsPaused))
        {
            var detail = await StreamDetailAsync(node, stream);
            if (detail is { } d && d.TryGetProperty("cluster", out var info) && info.TryGetProperty("leader", out var leader))
            {
                return Nodes.FirstOrDefault(n => n.Name == leader.GetString());
            }
        }

        return null;
    }

    /// <summary>How many messages <paramref name="node"/>'s own replica of <paramref name="stream"/> holds; null if it has none (yet).</summary>
    public async Task<long?> StreamMessagesOnAsync(NatsNode node, string stream) =>
        await StreamDetailAsync(node, stream) is { } d && d.TryGetProperty("state", out var state) ? state.GetProperty("messages").GetInt64() : null;

    private async Task<JsonElement?> StreamDetailAsync(NatsNode node, string stream)
    {
        try
        {
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://127.0.0.1:{node.MonitorPort}/jsz?streams=true")));
            if (!doc.RootElement.TryGetProperty("account_details", out var accounts))
            {
                return null;
            }

            foreach (var account in accounts.EnumerateArray())
            {
                if (account.TryGetProperty("stream_detail", out var streams))
                {
                    foreach (var s in streams.EnumerateArray())
                    {
                        if (s.GetProperty("name").GetString() == stream)
                        {
                            return s.Clone();
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            // Not answering (starting, stopping): unknown.
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node.Process is { } process)
            {
                await process.DisposeAsync();
            }
        }

        _http.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }

    private static string ReadLog(NatsNode node)
    {
        try
        {
            // The server keeps the file open for writing; share it.
            using var stream = new FileStream(node.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return string.Empty;
        }
    }

    private static ServerProcess Running(NatsNode node) =>
        node.Process is { IsRunning: true } process ? process : throw new InvalidOperationException($"{node.Name} is not running");

    private async Task StartProcessAsync(NatsNode node)
    {
        ServerProcess process;
        try
        {
            process = await ServerProcess.StartAsync(
                _executable, ["-c", node.ConfigPath], node.Folder, () => ServerProcess.AcceptsTcpAsync(node.ClientPort), StartTimeout);
        }
        catch (InvalidOperationException ex)
        {
            // nats-server writes to its log file, not to the console: the reason it stopped is there.
            throw new NodeExitedException($"{ex.Message}\n--- {node.Name} log ---\n{ReadLog(node)}", ex);
        }

        // The cluster folder is removed as a whole; a restarted node needs its store.
        process.KeepFolder = true;
        node.Process = process;
    }

    private async Task<(bool Healthy, string? MetaLeader)> ProbeAsync(NatsNode node, bool serverOnly)
    {
        try
        {
            using var health = await _http.GetAsync(new Uri($"http://127.0.0.1:{node.MonitorPort}/healthz{(serverOnly ? "?js-server-only=true" : string.Empty)}"));
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://127.0.0.1:{node.MonitorPort}/jsz")));
            var leader = doc.RootElement.TryGetProperty("meta_cluster", out var meta) && meta.TryGetProperty("leader", out var l) ? l.GetString() : null;
            return (health.StatusCode == HttpStatusCode.OK, leader);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return (false, null);
        }
    }

    private string Config(NatsNode node)
    {
        // The configuration format's double-quoted strings take no escapes these values need; refuse what would break them.
        static string Quote(string value) =>
            value.Contains('"', StringComparison.Ordinal) || value.Contains('\\', StringComparison.Ordinal)
                ? throw new ArgumentException($"no quotes or backslashes in a nats-server configuration value: {value}")
                : $"\"{value}\"";
        var routes = string.Join(", ", Nodes.Select(n => $"nats-route://127.0.0.1:{n.ClusterPort.ToString(CultureInfo.InvariantCulture)}"));
        var config = new StringBuilder();
        config.AppendLine(CultureInfo.InvariantCulture, $"server_name: {node.Name}");
        config.AppendLine(CultureInfo.InvariantCulture, $"listen: 127.0.0.1:{node.ClientPort}");
        config.AppendLine(CultureInfo.InvariantCulture, $"http: 127.0.0.1:{node.MonitorPort}");
        // A file, not the captured output: the whole log stays searchable (route retries at start fill any cap).
        config.AppendLine(CultureInfo.InvariantCulture, $"log_file: {Quote(node.LogPath)}");
        config.AppendLine(CultureInfo.InvariantCulture, $"jetstream {{ store_dir: {Quote(Path.Combine(node.Folder, "store"))}, max_memory_store: 64MB, max_file_store: 1GB }}");
        if (Nodes.Count > 1)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"cluster {{ name: printfarm-test, listen: 127.0.0.1:{node.ClusterPort}, routes: [{routes}] }}");
        }

        config.AppendLine(CultureInfo.InvariantCulture, $"mqtt {{ listen: 127.0.0.1:{node.MqttPort} }}");
        if (Mappings.Count > 0)
        {
            config.AppendLine("mappings {");
            foreach (var mapping in Mappings)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"  {Quote(mapping.Source)}: {Quote(mapping.Destination)}");
            }

            config.AppendLine("}");
        }

        return config.ToString();
    }
}

/// <summary>A node's nats-server exited before it accepted connections; the message has its output and log.</summary>
public sealed class NodeExitedException(string message, Exception inner) : InvalidOperationException(message, inner);
