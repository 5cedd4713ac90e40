using System.Net;

namespace PrintFarm.Worker.Configuration;

/// <summary>Checks the TLS, secret-file, health, guard and log-format settings (issue 12); each failure names the key.</summary>
internal static class OperationsOptionsValidator
{
    private const string P = PrintFarmOptions.SectionName;

    public static void Validate(PrintFarmOptions o, List<string> errors)
    {
        void Check(bool ok, string key, string allowed, object? value)
        {
            if (!ok)
            {
                errors.Add($"{P}:{key} is '{SecretMasking.Value(key, value)}': {allowed}");
            }
        }

        void File(string? path, string key)
        {
            if (!string.IsNullOrEmpty(path))
            {
                Check(System.IO.File.Exists(path), key, "must name a readable file", path);
            }
        }

        void Secret(string? path, string key)
        {
            if (!string.IsNullOrEmpty(path))
            {
                // The file's content is a secret: name only the file and the problem.
                Check(SecretFiles.TryRead(path, out _, out var problem), key, $"must name a readable file whose first line is the secret ({problem ?? "cannot be read"})", path);
            }
        }

        var mqtt = o.Mqtt;
        Check(mqtt.ProtocolVersion is "5" || mqtt.IsV311, "Mqtt:ProtocolVersion", "must be 5 or 3.1.1", mqtt.ProtocolVersion);
        var tlsFiles = !string.IsNullOrEmpty(mqtt.CaFile) || !string.IsNullOrEmpty(mqtt.ClientCertificateFile);
        Check(!tlsFiles || mqtt.UseTls, "Mqtt:UseTls", "must be true when Mqtt:CaFile or Mqtt:ClientCertificateFile is set", mqtt.UseTls);
        File(mqtt.CaFile, "Mqtt:CaFile");
        File(mqtt.ClientCertificateFile, "Mqtt:ClientCertificateFile");
        File(mqtt.ClientKeyFile, "Mqtt:ClientKeyFile");
        Check(string.IsNullOrEmpty(mqtt.ClientKeyFile) || !string.IsNullOrEmpty(mqtt.ClientCertificateFile), "Mqtt:ClientCertificateFile", "must be set when Mqtt:ClientKeyFile is", mqtt.ClientCertificateFile);
        Secret(mqtt.PasswordFile, "Mqtt:PasswordFile");
        Check(string.IsNullOrEmpty(mqtt.PasswordFile) || !string.IsNullOrEmpty(mqtt.Username), "Mqtt:Username", "must be set when Mqtt:PasswordFile is", mqtt.Username);

        var influx = o.Influx;
        File(influx.CaFile, "Influx:CaFile");
        Check(string.IsNullOrEmpty(influx.CaFile) || influx.Url.StartsWith("https://", StringComparison.OrdinalIgnoreCase), "Influx:Url", "must be https:// when Influx:CaFile is set", influx.Url);
        Secret(influx.TokenFile, "Influx:TokenFile");
        Secret(influx.PasswordFile, "Influx:PasswordFile");

        var health = o.Health;
        Check(health.Address is "*" or "localhost" || IPAddress.TryParse(health.Address, out _), "Health:Address", "must be an IP address, localhost or *", health.Address);
        Check(health.Port is >= 0 and <= 65535, "Health:Port", "must be 0–65535", health.Port);
        Check(health.MaxCheckpointAge > TimeSpan.Zero, "Health:MaxCheckpointAge", "must be positive", health.MaxCheckpointAge);
        Check(health.MaxWatermarkStall > TimeSpan.Zero, "Health:MaxWatermarkStall", "must be positive", health.MaxWatermarkStall);
        Check(health.IngestInterval >= TimeSpan.FromMilliseconds(100), "Health:IngestInterval", "must be at least 00:00:00.1", health.IngestInterval);

        var guards = o.Guards;
        Check(guards.MaxPrinters is >= 1 and <= 1_000_000, "Guards:MaxPrinters", "must be between 1 and 1000000", guards.MaxPrinters);
        Check(guards.MaxToys is >= 1 and <= 1_000_000, "Guards:MaxToys", "must be between 1 and 1000000", guards.MaxToys);
        Check(guards.MaxMaterials is >= 1 and <= 1_000_000, "Guards:MaxMaterials", "must be between 1 and 1000000", guards.MaxMaterials);
        for (var i = 0; i < guards.AllowedPrinters.Count; i++)
        {
            Check(!string.IsNullOrWhiteSpace(guards.AllowedPrinters[i]), $"Guards:AllowedPrinters:{i}", "must be a printer id", guards.AllowedPrinters[i]);
        }

        Check(o.LogFormat is "text" or "json", "LogFormat", "must be text or json", o.LogFormat);
    }
}
