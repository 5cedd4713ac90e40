using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Normalization;

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

    /// <summary>How often open jobs, KPI windows and adapter state are checkpointed to disk (also on shutdown). Default 5 s.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Events stamped further ahead of the receive time are rejected. Default 5 min.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

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
    /// Folder for the checkpoint, dead letters and the InfluxDB spool; relative paths are under the content root.
    /// Default the user's state folder: <c>$XDG_STATE_HOME/printfarm</c>, else <c>~/.local/state/printfarm</c>
    /// (<c>%LOCALAPPDATA%\PrintFarm</c> on Windows) — never the source tree.
    /// </summary>
    public string DataFolder { get; set; } = Hosting.DataFolders.DefaultRoot();

    /// <summary>MQTT connection.</summary>
    public MqttOptions Mqtt { get; set; } = new();

    /// <summary>InfluxDB connection and write behaviour.</summary>
    public InfluxOptions Influx { get; set; } = new();

    // --- Printer adapters (issue 3) ---

    /// <summary>Printer formats and their topics (<c>PrintFarm:Adapters</c>).</summary>
    public AdaptersOptions Adapters { get; set; } = new();

    /// <summary>
    /// Material loaded on each printer (printer id → material, <c>PrintFarm:PrinterMaterials:op1 = PETG</c>), used when
    /// neither the event nor a material token in the file name names one. Default empty (the default material).
    /// </summary>
    public Dictionary<string, string> PrinterMaterials { get; set; } = new(StringComparer.Ordinal);
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

    /// <summary>Messages buffered between the MQTT client and the pipeline; when full, the client waits (back-pressure). Default 10000.</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Topic patterns of the native schema. Default <c>printfarm/{printer}/event</c>.</summary>
    public List<string> NativeTopics { get; set; } = [];

    /// <summary>The native topics, or the default when none is configured.</summary>
    public IReadOnlyList<string> EffectiveNativeTopics => NativeTopics.Count > 0 ? NativeTopics : [NativeAdapter.DefaultTopic];

    /// <summary>The broker inside the worker (<c>PrintFarm:Mqtt:EmbeddedBroker</c>); off by default.</summary>
    public EmbeddedBrokerOptions EmbeddedBroker { get; set; } = new();
}

/// <summary>Settings under <c>PrintFarm:Influx</c>.</summary>
public sealed class InfluxOptions
{
    /// <summary>Base URL. Default <c>http://localhost:8086</c>.</summary>
    public string Url { get; set; } = "http://localhost:8086";

    /// <summary><c>v2</c> (<c>/api/v2/write</c>: InfluxDB 2.x, 3.x, Cloud, VictoriaMetrics) or <c>v1</c> (<c>/write</c>: InfluxDB 1.x). Default <c>v2</c>.</summary>
    public string ApiVersion { get; set; } = "v2";

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

    /// <summary>Timeout of one write request. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a failed write (network error, 429, 5xx) before the batch goes to the spool. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First retry delay, doubled each time with jitter; a server's <c>Retry-After</c> wins. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often spooled batches are retried while the database is unreachable. Default 10 s.</summary>
    public TimeSpan SpoolRetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Disk the spool may use; past it the oldest batches are dropped, counted and logged. Default 1 GiB (1073741824).</summary>
    public long SpoolMaxBytes { get; set; } = 1L << 30;

    /// <summary>Compress request bodies with gzip. Default true.</summary>
    public bool Gzip { get; set; } = true;

    /// <summary>Lines buffered between the pipeline and the writer. Default 100000.</summary>
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>True for the v1 API.</summary>
    public bool IsV1 => string.Equals(ApiVersion, "v1", StringComparison.OrdinalIgnoreCase);
}
