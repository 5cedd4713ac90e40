namespace PrintFarm.Core.Ingestion.Bambu;

/// <summary>
/// Bambu Lab printers' own MQTT reports (LAN mode broker on the printer, or a bridge of it / of the cloud broker).
/// The topic level is the printer's serial number; <see cref="Printers"/> can give it a friendlier id.
/// </summary>
public sealed class BambuAdapterOptions
{
    /// <summary>Whether the worker registers this adapter. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Report topic, with the serial as <c>{printer}</c>. Default <c>device/{printer}/report</c>.</summary>
    public string ReportTopic { get; set; } = "device/{printer}/report";

    /// <summary>Printer id by serial number (<c>01S00C123456789</c> → <c>bambu-3</c>); a serial not listed is its own id. Default empty.</summary>
    public Dictionary<string, string> Printers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The topic patterns.</summary>
    /// <exception cref="ArgumentException">The pattern is invalid.</exception>
    public IReadOnlyList<TopicPattern> BuildTopics() => [new TopicPattern(ReportTopic)];
}
