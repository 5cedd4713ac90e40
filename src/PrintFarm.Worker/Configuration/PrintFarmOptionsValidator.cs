using Microsoft.Extensions.Options;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Worker.Configuration;

/// <summary>Checks every setting at start-up; each failure names the key and what is allowed.</summary>
internal sealed class PrintFarmOptionsValidator : IValidateOptions<PrintFarmOptions>
{
    private const string P = PrintFarmOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, PrintFarmOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string allowed, object? value)
        {
            if (!ok)
            {
                errors.Add($"{P}:{key} is '{SecretMasking.Value(key, value)}': {allowed}");
            }
        }

        Check(!string.IsNullOrWhiteSpace(o.Farm) && o.Farm.AsSpan().IndexOfAny('\n', '\r') < 0 && !o.Farm.EndsWith('\\'), "Farm", "must be a non-empty single-line name", o.Farm);
        for (var i = 0; i < o.Windows.Count; i++)
        {
            Check(WindowSpec.TryParse(o.Windows[i], out _), $"Windows:{i}", $"must be {WindowSpec.Grammar}", o.Windows[i]);
        }

        Check(o.FlushInterval >= TimeSpan.FromMilliseconds(50) && o.FlushInterval <= TimeSpan.FromHours(1), "FlushInterval", "must be between 00:00:00.05 and 01:00:00", o.FlushInterval);
        Check(o.OutOfOrderness >= TimeSpan.Zero && o.OutOfOrderness <= TimeSpan.FromHours(1), "OutOfOrderness", "must be between 00:00:00 and 01:00:00", o.OutOfOrderness);
        Check(o.AllowedLateness >= TimeSpan.Zero && o.AllowedLateness <= TimeSpan.FromDays(7), "AllowedLateness", "must be between 00:00:00 and 7.00:00:00", o.AllowedLateness);
        Check(TryTimeZone(o.TimeZone, out _), "TimeZone", "must be an IANA time zone id such as UTC or Europe/Berlin", o.TimeZone);
        Check(o.SourceIdleTimeout > TimeSpan.Zero, "SourceIdleTimeout", "must be positive", o.SourceIdleTimeout);
        Check(o.CheckpointInterval >= TimeSpan.FromMilliseconds(100) && o.CheckpointInterval <= TimeSpan.FromHours(1), "CheckpointInterval", "must be between 00:00:00.1 and 01:00:00", o.CheckpointInterval);
        Check(o.MaxClockSkew >= TimeSpan.Zero, "MaxClockSkew", "must not be negative", o.MaxClockSkew);
        Check(o.MaxPayloadBytes is >= 1024 and <= 256 * 1024 * 1024, "MaxPayloadBytes", "must be between 1024 and 268435456", o.MaxPayloadBytes);
        Check(o.DeadLetterMaxBytes >= 65536, "DeadLetterMaxBytes", "must be at least 65536 (bytes)", o.DeadLetterMaxBytes);
        Check(o.DeadLetterDiskReserveBytes >= 0, "DeadLetterDiskReserveBytes", "must be 0 (no check) or a positive number of bytes", o.DeadLetterDiskReserveBytes);
        Check(o.FilamentDiameterMm is > 0 and < 10, "FilamentDiameterMm", "must be between 0 and 10 (mm), typically 1.75 or 2.85", o.FilamentDiameterMm);
        Check(!string.IsNullOrWhiteSpace(o.DefaultMaterial), "DefaultMaterial", "must name a material such as PLA", o.DefaultMaterial);
        if (o.Cluster is { Enabled: true } cluster)
        {
            Check(cluster.Partitions is >= 1 and <= 1024, "Cluster:Partitions", "must be 1–1024, the P of the servers' partition(P, …) mapping", cluster.Partitions);
            Check(cluster.Replicas is >= 1 and <= 5, "Cluster:Replicas", "must be 1–5 (3 for a 3-node cluster)", cluster.Replicas);
            Check(cluster.TryOwnedPartitions(out _), "Cluster:Owned", $"must be partitions or ranges of 0–{cluster.Partitions - 1} such as 0-31 or 0,2,4-7, or empty for all", cluster.Owned);
            Check(cluster.Retention >= TimeSpan.FromHours(1), "Cluster:Retention", "must be at least 01:00:00, longer than any outage a checkpoint must survive", cluster.Retention);
            Check(cluster.LeaseTtl >= TimeSpan.FromSeconds(2) && cluster.LeaseTtl <= TimeSpan.FromMinutes(5), "Cluster:LeaseTtl", "must be between 00:00:02 and 00:05:00", cluster.LeaseTtl);
            Check(cluster.WorkerId is null || (cluster.WorkerId.Length > 0 && cluster.WorkerId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')), "Cluster:WorkerId", "must be letters, digits, - or _, or unset", cluster.WorkerId);
            foreach (var (key, value) in new[] { ("Cluster:Stream", cluster.Stream), ("Cluster:PartitionPrefix", cluster.PartitionPrefix), ("Cluster:CheckpointBucket", cluster.CheckpointBucket), ("Cluster:LeaseBucket", cluster.LeaseBucket) })
            {
                Check(!string.IsNullOrWhiteSpace(value) && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'), key, "must be letters, digits, - or _", value);
            }

            Check(!string.IsNullOrWhiteSpace(cluster.Url), "Cluster:Url", "must name the NATS servers, e.g. nats://127.0.0.1:4222", cluster.Url);
        }
        foreach (var (material, m) in o.Materials)
        {
            Check(m.Density is > 0.5 and < 3, $"Materials:{material}:Density", "must be a density in g/cm³ between 0.5 and 3", m.Density);
            Check(m.PricePerKg is null or >= 0, $"Materials:{material}:PricePerKg", "must not be negative", m.PricePerKg);
        }

        for (var i = 0; i < o.ToyNamePatterns.Count; i++)
        {
            var problem = ToyNameRules.Validate(o.ToyNamePatterns[i]);
            Check(problem is null, $"ToyNamePatterns:{i}", $"must be a regular expression with a named group 'toy' ({problem})", o.ToyNamePatterns[i]);
        }

        Check(!string.IsNullOrWhiteSpace(o.DataFolder), "DataFolder", "must be a folder path", o.DataFolder);
        errors.AddRange(o.Orders.Validate().Select(problem => $"{P}:Orders:{problem}"));
        errors.AddRange(o.Reasons.Validate().Select(problem => $"{P}:Reasons:{problem}"));
        errors.AddRange(o.Energy.Validate(o.Guards.AllowedPrinters).Select(problem => $"{P}:Energy:{problem}"));
        errors.AddRange(o.Cost.Validate().Select(problem => $"{P}:Cost:{problem}"));

        var mqtt = o.Mqtt;
        Check(!string.IsNullOrWhiteSpace(mqtt.Host), "Mqtt:Host", "must be a host name or address", mqtt.Host);
        Check(mqtt.Port is > 0 and <= 65535, "Mqtt:Port", "must be 1–65535", mqtt.Port);
        Check(!string.IsNullOrWhiteSpace(mqtt.ClientId), "Mqtt:ClientId", "must be a fixed, non-empty client id", mqtt.ClientId);
        Check(mqtt.SessionExpiry >= TimeSpan.Zero && mqtt.SessionExpiry.TotalSeconds <= uint.MaxValue, "Mqtt:SessionExpiry", "must be a non-negative duration", mqtt.SessionExpiry);
        Check(mqtt.KeepAlive >= TimeSpan.FromSeconds(1) && mqtt.KeepAlive <= TimeSpan.FromHours(18), "Mqtt:KeepAlive", "must be between 00:00:01 and 18:00:00", mqtt.KeepAlive);
        Check(mqtt.ReconnectDelay > TimeSpan.Zero && mqtt.ReconnectDelay <= mqtt.ReconnectMaxDelay, "Mqtt:ReconnectDelay", "must be positive and not above Mqtt:ReconnectMaxDelay", mqtt.ReconnectDelay);
        Check(mqtt.MaximumPacketSize == 0 || (!mqtt.IsV311 && mqtt.MaximumPacketSize >= (long)o.MaxPayloadBytes + Mqtt.MqttConnectionOptions.PacketOverhead && mqtt.MaximumPacketSize <= 268_435_460), "Mqtt:MaximumPacketSize", $"must be 0 (none sent), or with Mqtt:ProtocolVersion 5 between MaxPayloadBytes + {Mqtt.MqttConnectionOptions.PacketOverhead} ({(long)o.MaxPayloadBytes + Mqtt.MqttConnectionOptions.PacketOverhead}) and 268435460", mqtt.MaximumPacketSize);
        for (var i = 0; i < mqtt.NativeTopics.Count; i++)
        {
            var ok = TryPattern(mqtt.NativeTopics[i], out var why);
            Check(ok, $"Mqtt:NativeTopics:{i}", $"must be a topic pattern with a {{printer}} level ({why})", mqtt.NativeTopics[i]);
        }

        var broker = mqtt.EmbeddedBroker;
        if (broker.Enabled)
        {
            Check(broker.Port is > 0 and <= 65535, "Mqtt:EmbeddedBroker:Port", "must be 1–65535", broker.Port);
            Check(string.IsNullOrEmpty(broker.Username) == string.IsNullOrEmpty(broker.Password), "Mqtt:EmbeddedBroker:Username", "and Mqtt:EmbeddedBroker:Password must be set together or not at all", broker.Username);
            Check(broker.MaxPendingMessagesPerClient >= 1, "Mqtt:EmbeddedBroker:MaxPendingMessagesPerClient", "must be at least 1", broker.MaxPendingMessagesPerClient);
            Check(string.IsNullOrEmpty(broker.Address) || broker.Address == "*" || System.Net.IPAddress.TryParse(broker.Address, out _), "Mqtt:EmbeddedBroker:Address", "must be an IPv4 or IPv6 address, * for every interface, or empty (loopback unless credentials or AllowAnonymous are set)", broker.Address);
            Check(broker.TlsPort is > 0 and <= 65535 && (string.IsNullOrEmpty(broker.CertificateFile) || broker.TlsPort != broker.Port), "Mqtt:EmbeddedBroker:TlsPort", "must be 1–65535 and differ from Mqtt:EmbeddedBroker:Port", broker.TlsPort);
            Check(string.IsNullOrEmpty(broker.CertificateFile) || File.Exists(broker.CertificateFile), "Mqtt:EmbeddedBroker:CertificateFile", "must name a readable PEM or PKCS#12 file, or be empty for no TLS", broker.CertificateFile);
            Check(string.IsNullOrEmpty(broker.CertificateKeyFile) || File.Exists(broker.CertificateKeyFile), "Mqtt:EmbeddedBroker:CertificateKeyFile", "must name a readable PEM key file, or be empty (the key is in CertificateFile)", broker.CertificateKeyFile);
            foreach (var (printer, credential) in broker.Printers)
            {
                Check(printer.Length > 0 && printer.AsSpan().IndexOfAny("/+#\r\n") < 0, $"Mqtt:EmbeddedBroker:Printers:{printer}", "must be keyed by a printer id without '/', '+', '#' or line breaks", printer);
                Check(!string.IsNullOrEmpty(credential.Password), $"Mqtt:EmbeddedBroker:Printers:{printer}:Password", "or its PasswordFile (a readable file whose first line is the password) must be set", credential.PasswordFile);
                Check(!string.Equals(printer, broker.Username, StringComparison.Ordinal), $"Mqtt:EmbeddedBroker:Printers:{printer}", "must differ from Mqtt:EmbeddedBroker:Username", printer);
            }
        }

        var influx = o.Influx;
        Check(Uri.TryCreate(influx.Url, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps), "Influx:Url", "must be an absolute http:// or https:// URL", influx.Url);
        Check(influx.IsV1 || influx.IsV2 || influx.IsAuto, "Influx:ApiVersion", "must be auto, v1 or v2", influx.ApiVersion);
        if (influx.IsV2)
        {
            Check(!string.IsNullOrWhiteSpace(influx.Bucket), "Influx:Bucket", "is required with ApiVersion v2", influx.Bucket);
        }

        if (influx.IsV1)
        {
            Check(!string.IsNullOrWhiteSpace(influx.Database), "Influx:Database", "is required with ApiVersion v1", influx.Database);
        }

        if (influx.IsAuto)
        {
            Check(!string.IsNullOrWhiteSpace(influx.Bucket) || !string.IsNullOrWhiteSpace(influx.Database), "Influx:Bucket", "or Influx:Database is required with ApiVersion auto", influx.Bucket);
        }

        Check(influx.BatchSize is >= 1 and <= 100_000, "Influx:BatchSize", "must be between 1 and 100000", influx.BatchSize);
        Check(influx.BatchInterval > TimeSpan.Zero, "Influx:BatchInterval", "must be positive", influx.BatchInterval);
        Check(influx.MaxConcurrentWrites is >= 1 and <= 16, "Influx:MaxConcurrentWrites", "must be between 1 and 16", influx.MaxConcurrentWrites);
        Check(influx.Timeout > TimeSpan.Zero, "Influx:Timeout", "must be positive", influx.Timeout);
        Check(influx.MaxRetries is >= 0 and <= 100, "Influx:MaxRetries", "must be between 0 and 100", influx.MaxRetries);
        Check(influx.RetryDelay > TimeSpan.Zero, "Influx:RetryDelay", "must be positive", influx.RetryDelay);
        Check(influx.MaxRetryWait >= TimeSpan.Zero && influx.MaxRetryWait <= TimeSpan.FromMinutes(10), "Influx:MaxRetryWait", "must be between 00:00:00 and 00:10:00", influx.MaxRetryWait);
        Check(influx.SpoolRetryInterval > TimeSpan.Zero, "Influx:SpoolRetryInterval", "must be positive", influx.SpoolRetryInterval);
        Check(influx.SpoolMaxBytes >= 1024 * 1024, "Influx:SpoolMaxBytes", "must be at least 1048576", influx.SpoolMaxBytes);
        Check(influx.QueueCapacity is >= 1 and <= 10_000_000, "Influx:QueueCapacity", "must be between 1 and 10000000", influx.QueueCapacity);

        AdaptersOptionsValidator.Validate(o, errors);
        Alerts.AlertsOptionsValidator.Validate(o, errors);
        Journal.JournalOptionsValidator.Validate(o, errors);
        OeeOptionsValidator.Validate(o, errors);

        OperationsOptionsValidator.Validate(o, errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Resolves an IANA (or Windows) time zone id.</summary>
    public static bool TryTimeZone(string? id, out TimeZoneInfo? zone)
    {
        zone = null;
        if (string.IsNullOrWhiteSpace(id))
        {
            return false;
        }

        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return false;
        }
    }

    private static bool TryPattern(string pattern, out string? why)
    {
        try
        {
            _ = new Core.Ingestion.TopicPattern(pattern);
            why = null;
            return true;
        }
        catch (ArgumentException ex)
        {
            why = ex.Message;
            return false;
        }
    }
}
