using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Normalization;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Configuration;

/// <summary>Settings under the <c>PrintFarm</c> section. Every key can be overridden by environment (<c>PrintFarm__Mqtt__Host</c>).</summary>
public sealed class PrintFarmOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "PrintFarm";

    /// <summary>Value of the <c>farm</c> tag on every point. Default <c>default</c>.</summary>
    public string Farm { get; set; } = "default";

    /// <summary>KPI window sizes (<c>30s</c>, <c>15m</c>, <c>1h</c>, <c>1d</c>, …). Default <c>["1h","1d"]</c>.</summary>
    public List<string> Windows { get; set; } = [];

    /// <summary>How often changed KPI windows are written while open. Default 5 s.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Bound on out-of-orderness: the watermark trails the newest event time by this much. Default 30 s.</summary>
    public TimeSpan OutOfOrderness { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long after its end a window still accepts late jobs. Default 10 min.</summary>
    public TimeSpan AllowedLateness { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// IANA time zone (for example <c>Europe/Berlin</c>) whose midnight starts whole-day KPI windows, so "today" is the
    /// operator's day. Sub-day windows stay UTC-aligned. Default <c>UTC</c>.
    /// </summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>A source silent for this long stops holding the farm's watermark back. Default 5 min.</summary>
    public TimeSpan SourceIdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often open jobs, KPI windows and adapter state are checkpointed to disk (also on shutdown). A checkpoint is
    /// written only once every line produced before it is in InfluxDB or the spool; the journal is replayed from it
    /// after a crash, so the interval bounds replay time and journal size, not loss. Default 10 s.
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Start with empty state when no kept checkpoint can be used and the journal no longer reaches back to its first
    /// record, although the day's open KPI windows then restart from zero and overwrite InfluxDB's points. Without it
    /// the worker refuses to start (exit code 2). Meant for one start: pass <c>--accept-checkpoint-loss</c> rather than
    /// setting it for good (docs/reliability.md, "Checkpoints"). Default false.
    /// </summary>
    public bool AcceptCheckpointLoss { get; set; }

    /// <summary>Events stamped further ahead of the receive time are rejected. Default 5 min.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Byte budget of the dead letters (<c>deadletter/messages-*.jsonl</c> and the batches InfluxDB rejected,
    /// <c>deadletter/influx-rejected-*.lp</c>), in bytes. Beyond it a message's line or a batch's file is refused, not written: counted in <c>printfarm.deadletter.refused{cause=budget}</c> and logged as an error (the
    /// message is still counted as rejected). Old files are never deleted by the worker (refusal, not rotation: the
    /// evidence kept first stays). Default 256 MiB (268435456); at least 65536.
    /// </summary>
    public long DeadLetterMaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Free space the dead letters leave on the data folder's disk, in bytes, so the checkpoint (and the journal) can
    /// still be written: a line that would leave less is refused (<c>printfarm.deadletter.refused{cause=reserve}</c>).
    /// Default 64 MiB (67108864); 0 turns the check off.
    /// </summary>
    public long DeadLetterDiskReserveBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Payloads above this many bytes are dead-lettered as oversize. Default 1 MiB (1048576).</summary>
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary>Material assumed when an event names none. Default <c>PLA</c>.</summary>
    public string DefaultMaterial { get; set; } = "PLA";

    /// <summary>Filament diameter for millimetre → gram conversion, mm. Default 1.75.</summary>
    public double FilamentDiameterMm { get; set; } = MaterialCatalog.DefaultFilamentDiameterMm;

    /// <summary>Materials by name. Defaults: PLA 1.24, PETG 1.27, ABS 1.04, ASA 1.07, TPU 1.21 g/cm³; entries given here add to or replace them.</summary>
    public Dictionary<string, MaterialOptions> Materials { get; set; } = MaterialCatalog.DefaultDensities
        .ToDictionary(kv => kv.Key, kv => new MaterialOptions { Density = kv.Value }, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Regular expressions that read toy and quantity from a file stem, tried in order; each needs a named group
    /// <c>toy</c> and may have <c>qty</c>. Empty means the default rule (<c>dragon_x4</c> → dragon × 4).
    /// </summary>
    public List<string> ToyNamePatterns { get; set; } = [];

    /// <summary>
    /// Folder for the journal, the checkpoint, dead letters and the InfluxDB spool; relative paths are under the content root.
    /// Default the user's state folder: <c>$XDG_STATE_HOME/printfarm</c>, else <c>~/.local/state/printfarm</c>
    /// (<c>%LOCALAPPDATA%\PrintFarm</c> on Windows) — never the source tree.
    /// </summary>
    public string DataFolder { get; set; } = Hosting.DataFolders.DefaultRoot();

    /// <summary>MQTT connection.</summary>
    public MqttOptions Mqtt { get; set; } = new();

    /// <summary>InfluxDB connection and write behaviour.</summary>
    public InfluxOptions Influx { get; set; } = new();

    /// <summary>The write-ahead journal of received messages (<c>PrintFarm:Journal</c>).</summary>
    public JournalOptions Journal { get; set; } = new();

    // --- Printer adapters (issue 3) ---

    /// <summary>Printer formats and their topics (<c>PrintFarm:Adapters</c>).</summary>
    public AdaptersOptions Adapters { get; set; } = new();

    /// <summary>
    /// Material loaded on each printer (printer id → material, <c>PrintFarm:PrinterMaterials:op1 = PETG</c>), used when
    /// neither the event nor a material token in the file name names one. Default empty (the default material).
    /// </summary>
    public Dictionary<string, string> PrinterMaterials { get; set; } = new(StringComparer.Ordinal);

    // --- Alerts (issue 11) ---

    /// <summary>Built-in alert rules and their delivery (<c>PrintFarm:Alerts</c>): MQTT, log, InfluxDB, optional webhook.</summary>
    public Alerts.AlertsOptions Alerts { get; set; } = new();

    /// <summary>
    /// Everyday-event notifications (<c>PrintFarm:Notifications</c>): jobs finished, failed, cancelled, printers offline
    /// and back, sent through the alert channels. Off until <c>Events</c> names a kind.
    /// </summary>
    public PrintFarm.Core.Notifications.NotificationOptions Notifications { get; set; } = new();

    /// <summary>Printer time accounting and OEE (<c>PrintFarm:Oee</c>): off-shift schedule, maintenance topic.</summary>
    public OeeOptions Oee { get; set; } = new();

    /// <summary>Orders and on-time delivery (<c>PrintFarm:Orders</c>): orders read from <c>printfarm/orders/{id}</c>.</summary>
    public PrintFarm.Core.Orders.OrderBookOptions Orders { get; set; } = new();

    /// <summary>Failure reasons (<c>PrintFarm:Reasons</c>): operator labels on <c>printfarm/labels/{printer}/{job}</c> and how long a job can be labelled.</summary>
    public PrintFarm.Core.Jobs.ReasonTrackerOptions Reasons { get; set; } = new();

    /// <summary>Metered energy (<c>PrintFarm:Energy</c>): smart plugs by name and the printer each feeds.</summary>
    public PrintFarm.Core.Ingestion.Energy.EnergyOptions Energy { get; set; } = new();

    /// <summary>Landed cost (<c>PrintFarm:Cost</c>): price per kWh, depreciation per printing hour, labour per plate.</summary>
    public PrintFarm.Core.Cost.CostOptions Cost { get; set; } = new();

    // --- Operations (issue 12) ---

    /// <summary>Health endpoints (<c>PrintFarm:Health</c>).</summary>
    public HealthOptions Health { get; set; } = new();

    /// <summary>Cardinality caps and the printer allow-list (<c>PrintFarm:Guards</c>).</summary>
    public GuardOptions Guards { get; set; } = new();

    /// <summary>The clustered mode: partitions of a NATS JetStream stream instead of MQTT and the journal (<c>PrintFarm:Cluster</c>); off by default.</summary>
    public Cluster.ClusterOptions Cluster { get; set; } = new();

    /// <summary>Console log format: <c>text</c> (human-readable) or <c>json</c> (Serilog compact JSON, one object a line, for log shippers). Default <c>text</c>.</summary>
    public string LogFormat { get; set; } = "text";
}

/// <summary>A material's constants.</summary>
public sealed class MaterialOptions
{
    /// <summary>Density, g/cm³.</summary>
    public double Density { get; set; }

    /// <summary>Price per kilogram (farm currency), optional.</summary>
    public double? PricePerKg { get; set; }
}

/// <summary>Settings under <c>PrintFarm:Mqtt</c>.</summary>
public sealed class MqttOptions
{
    /// <summary>Broker host. Default <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Broker port. Default 1883.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>Use TLS. Default false.</summary>
    public bool UseTls { get; set; }

    /// <summary>Client id; fixed, so the broker keeps the session (and queued QoS 1 messages) across reconnects. Default <c>printfarm-telemetry</c>.</summary>
    public string ClientId { get; set; } = "printfarm-telemetry";

    /// <summary>User name, optional.</summary>
    public string? Username { get; set; }

    /// <summary>Password, optional.</summary>
    public string? Password { get; set; }

    /// <summary>How long the broker keeps the session while the worker is away. Default 1 h.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>MQTT keep-alive. Default 30 s.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First reconnect delay; doubles up to <see cref="ReconnectMaxDelay"/>. Default 1 s.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay. Default 30 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The older name of <see cref="JournalOptions.GroupMessages"/> (it sized the journal's group, not a queue of this
    /// stage): when set, and <c>Journal:GroupMessages</c> is not, it is used there, and the start-up log says to rename it.
    /// </summary>
    public int? QueueCapacity { get; set; }

    /// <summary>
    /// QoS 1 messages the broker may send before the worker acknowledges them (MQTT 5 Receive Maximum). A message is
    /// acknowledged once it is in the journal on disk, so this bounds what is in flight, not what can be lost. Mosquitto
    /// also caps it with <c>max_inflight_messages</c> (20 by default; the shipped configuration sets 1000). Default 1000.
    /// </summary>
    public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>
    /// MQTT 5 only: the Maximum Packet Size sent in CONNECT, in bytes; 0 (the default) sends none. A broker discards a
    /// larger packet for this client and acts as if it were delivered (MQTT 5.0 §3.1.2.11.4), so such a message never
    /// reaches the worker and the worker cannot count, log or keep it: set it only to keep the bytes off the network.
    /// Without it (and always on MQTT 3.1.1) a payload over <see cref="PrintFarmOptions.MaxPayloadBytes"/> is skipped on
    /// the socket, never buffered whole, and kept as metadata only (dead letter <c>oversize</c>). At least
    /// <c>MaxPayloadBytes</c> + 131072 (room for the header, a 64 KiB topic and properties), at most 268435460.
    /// </summary>
    public int MaximumPacketSize { get; set; }

    /// <summary>Topic patterns of the native schema. Default <c>printfarm/{printer}/event</c>.</summary>
    public List<string> NativeTopics { get; set; } = [];

    /// <summary>The native topics, or the default when none is configured.</summary>
    public IReadOnlyList<string> EffectiveNativeTopics => NativeTopics.Count > 0 ? NativeTopics : [NativeAdapter.DefaultTopic];

    // --- TLS, authentication and protocol (issue 12) ---

    /// <summary>
    /// PEM file of the certificate authority that signed the broker's certificate (a self-signed farm CA, Bambu's
    /// printer CA). When set, only this CA is trusted for the broker; when empty, the system's trust store is used.
    /// Needs <see cref="UseTls"/>. Default empty.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>PEM file of the client certificate, for brokers that require one (<c>require_certificate true</c>). Needs <see cref="ClientKeyFile"/>. Default empty.</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>PEM file of the client certificate's private key (unencrypted PKCS#8, PKCS#1 or SEC1). Default empty.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>
    /// Check that the broker's certificate names <see cref="Host"/>. Default true. Turning it off (for printers whose
    /// certificate names a serial number instead of an address) is logged as a warning at every connect.
    /// </summary>
    public bool ValidateServerName { get; set; } = true;

    /// <summary>File holding the password (first line; docker and systemd secrets); wins over <see cref="Password"/>. Default empty.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>MQTT protocol version: <c>5</c> or <c>3.1.1</c> (brokers without MQTT 5: aedes, RabbitMQ before 3.13, old Mosquitto). Default <c>5</c>.</summary>
    public string ProtocolVersion { get; set; } = "5";

    /// <summary>True when <see cref="ProtocolVersion"/> is 3.1.1.</summary>
    public bool IsV311 => ProtocolVersion is "3.1.1" or "311" or "4";

    /// <summary>The broker inside the worker (<c>PrintFarm:Mqtt:EmbeddedBroker</c>); off by default.</summary>
    public EmbeddedBrokerOptions EmbeddedBroker { get; set; } = new();
}

/// <summary>Settings under <c>PrintFarm:Influx</c>.</summary>
public sealed class InfluxOptions
{
    /// <summary>Base URL. Default <c>http://localhost:8086</c>.</summary>
    public string Url { get; set; } = "http://localhost:8086";

    /// <summary>
    /// <c>auto</c> (ask the server's <c>/ping</c> before the first write: <c>X-Influxdb-Version</c> 1.x → v1, anything
    /// else → v2), <c>v2</c> (<c>/api/v2/write</c>: InfluxDB 2.x, 3.x, Cloud, 1.8+, VictoriaMetrics) or <c>v1</c>
    /// (<c>/write</c>: InfluxDB 1.x). With auto, v1 writes to <see cref="Database"/> (else <see cref="Bucket"/>) and v2 to
    /// <see cref="Bucket"/> (else <see cref="Database"/>). Default <c>auto</c>.
    /// </summary>
    public string ApiVersion { get; set; } = "auto";

    /// <summary>API token (v2).</summary>
    public string? Token { get; set; }

    /// <summary>Organisation (v2).</summary>
    public string? Org { get; set; }

    /// <summary>Bucket (v2).</summary>
    public string? Bucket { get; set; }

    /// <summary>Database (v1).</summary>
    public string? Database { get; set; }

    /// <summary>Retention policy (v1), optional.</summary>
    public string? RetentionPolicy { get; set; }

    /// <summary>User name (v1), optional.</summary>
    public string? Username { get; set; }

    /// <summary>Password (v1), optional.</summary>
    public string? Password { get; set; }

    /// <summary>Lines per write request. Default 5000 (InfluxDB's recommendation).</summary>
    public int BatchSize { get; set; } = 5000;

    /// <summary>Longest a line waits for its batch to fill. Default 1 s.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Write requests in flight at once. Lines are spread over this many lanes by series (measurement and tags), each
    /// lane sending one batch at a time, so a series' points still arrive in order. Two let the database parse one
    /// batch while it stores the other (measured: +23 % points/s into InfluxDB 1.6 on 2 cores, docs/benchmarks.md).
    /// Default 2.
    /// </summary>
    public int MaxConcurrentWrites { get; set; } = 2;

    /// <summary>Timeout of one write request. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a failed write (network error, 429, 5xx) before the batch goes to the spool. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First retry delay, doubled each time with jitter; a server's <c>Retry-After</c> wins. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest a batch is retried in place, from its first attempt to the end of the next wait (back-off or the server's
    /// <c>Retry-After</c>), while its lane and the checkpoint behind it wait. A retry that would end later is not made:
    /// the batch goes to the spool at once, and the spool is replayed once the <c>Retry-After</c> (at most 10 min) has
    /// passed. Zero spools at the first failure. Default 10 s.
    /// </summary>
    public TimeSpan MaxRetryWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often spooled batches are retried while the database is unreachable. Default 10 s.</summary>
    public TimeSpan SpoolRetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Disk the spool may use; past it the oldest batches are dropped, counted and logged. Default 1 GiB (1073741824).</summary>
    public long SpoolMaxBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Compress request bodies with gzip. Worth it over a slow or metered link (InfluxDB Cloud, another site); on a LAN
    /// it costs the worker and the database CPU for nothing (measured: 17-22 % fewer points/s into a local InfluxDB,
    /// docs/benchmarks.md). Default false.
    /// </summary>
    public bool Gzip { get; set; }

    /// <summary>
    /// Lines buffered between the pipeline and the writer (in batches of up to 1024); when full, the pipeline waits and
    /// the backlog stays in the journal on disk. The writer's lanes hold their own batches besides, so a few thousand
    /// lines are enough to keep them busy; more only lengthen how long a line lives in memory, long enough for the GC
    /// to promote it (measured at 10,000 printers: peak RSS 200–211 MB with 20000, 186–187 MB with 8192, at the same
    /// rate; docs/benchmarks.md). Default 8192.
    /// </summary>
    public int QueueCapacity { get; set; } = 8192;

    /// <summary>True when the v1 API is set.</summary>
    public bool IsV1 => string.Equals(ApiVersion, "v1", StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the v2 API is set.</summary>
    public bool IsV2 => string.Equals(ApiVersion, "v2", StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the API is picked from the server's <c>/ping</c>.</summary>
    public bool IsAuto => string.Equals(ApiVersion, "auto", StringComparison.OrdinalIgnoreCase);

    // --- TLS and secrets (issue 12) ---

    /// <summary>PEM file of the certificate authority that signed the server's HTTPS certificate; when empty, the system's trust store is used. Default empty.</summary>
    public string? CaFile { get; set; }

    /// <summary>File holding the API token (first line; docker and systemd secrets); wins over <see cref="Token"/>. Default empty.</summary>
    public string? TokenFile { get; set; }

    /// <summary>File holding the v1 password (first line); wins over <see cref="Password"/>. Default empty.</summary>
    public string? PasswordFile { get; set; }
}

/// <summary>Settings under <c>PrintFarm:Health</c>: the <c>/healthz</c> and <c>/readyz</c> endpoints.</summary>
public sealed class HealthOptions
{
    /// <summary>Serve the endpoints. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Address to listen on: <c>127.0.0.1</c> (loopback, default), <c>0.0.0.0</c> or <c>*</c> (all interfaces: containers).</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests). Default 8080.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Ready only if a checkpoint was written within this long. Default 1 min.</summary>
    public TimeSpan MaxCheckpointAge { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Ready only if the watermark moved within this long while messages arrive. Default 10 min.</summary>
    public TimeSpan MaxWatermarkStall { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the worker writes its own <c>ingest</c> point to InfluxDB. Default 10 s.</summary>
    public TimeSpan IngestInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Settings under <c>PrintFarm:Guards</c>: caps on distinct tag values, so one misbehaving device cannot explode the number of series.</summary>
public sealed class GuardOptions
{
    /// <summary>Distinct printer ids kept; later ones fold into <c>other</c>. Default 2000 (a 1,000-printer farm with room for renames).</summary>
    public int MaxPrinters { get; set; } = 2000;

    /// <summary>Distinct toy names kept; later ones fold into <c>other</c>. Default 5000.</summary>
    public int MaxToys { get; set; } = 5000;

    /// <summary>Distinct material names kept; later ones fold into <c>other</c>. Default 100.</summary>
    public int MaxMaterials { get; set; } = 100;

    /// <summary>When not empty, only these printer ids are accepted; others are dead-lettered as <c>unknown_printer</c>. Default empty (all).</summary>
    public List<string> AllowedPrinters { get; set; } = [];
}
