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

    /// <summary>
    /// How long a job that ended <c>FAILED</c> without an error code waits for a cancel code (<c>print_error</c>
    /// 50348044) before it counts as failed; a P2S sent the code 4.6 s after the first FAILED report. The wait ends
    /// with the first report after it (or a new job), and the job's end time is the FAILED report's. Default 15 s.
    /// </summary>
    public TimeSpan CancelGracePeriod { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The topic patterns.</summary>
    /// <exception cref="ArgumentException">The pattern is invalid.</exception>
    public IReadOnlyList<TopicPattern> BuildTopics() => [new TopicPattern(ReportTopic)];
}
