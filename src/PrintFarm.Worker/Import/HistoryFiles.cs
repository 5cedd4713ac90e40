using System.Globalization;
using System.Text;
using System.Text.Json;
using PrintFarm.Core.Events;

namespace PrintFarm.Worker.Import;

/// <summary>One job of a job-history file (Moonraker, OctoPrint PrintJobHistory), before it becomes two events.</summary>
internal sealed record HistoryJob(
    string JobId,
    string File,
    DateTimeOffset Start,
    DateTimeOffset End,
    JobOutcome Outcome,
    double? PrintTimeSeconds,
    double? FilamentMillimetres,
    double? FilamentGrams,
    string? Material,
    double? EstimatedTimeSeconds);

/// <summary>A row or message of a history file that is not imported, and why (printed by <c>import</c>, with its line).</summary>
internal sealed record SkippedEntry(int Line, string Reason);

/// <summary>One MQTT message of a simulator trace (<c>printfarm-sim --trace</c>): its time is the receive time.</summary>
internal readonly record struct TraceMessage(DateTimeOffset Time, string Topic, byte[] Payload);

/// <summary>
/// Readers of the three history formats: each turns bytes into validated records and lists what it could not use,
/// line by line, without throwing for bad content (a missing file or an unreadable stream still throws).
/// </summary>
internal static class HistoryFiles
{
    /// <summary>
    /// A simulator trace: JSON lines <c>{"t": ISO time, "topic": …, "qos": …, "retain": …, "payload": text}</c>, in
    /// the order written (which is time order); <c>qos</c> and <c>retain</c> are ignored, as a subscriber that is
    /// already connected gets every message as a fresh publish.
    /// </summary>
    public static List<TraceMessage> ReadTrace(TextReader reader, List<SkippedEntry> skipped)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var messages = new List<TraceMessage>();
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("t", out var t) || t.ValueKind != JsonValueKind.String
                    || !DateTimeOffset.TryParse(t.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                    || !root.TryGetProperty("topic", out var topic) || topic.ValueKind != JsonValueKind.String
                    || !root.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.String)
                {
                    skipped.Add(new SkippedEntry(number, "a trace line needs \"t\" (ISO time), \"topic\" and \"payload\" (text)"));
                    continue;
                }

                messages.Add(new TraceMessage(time.ToUniversalTime(), topic.GetString()!, Encoding.UTF8.GetBytes(payload.GetString()!)));
            }
            catch (JsonException ex)
            {
                skipped.Add(new SkippedEntry(number, "not JSON: " + ex.Message));
            }
        }

        return messages;
    }

    /// <summary>
    /// A Moonraker job history dump: the answer of <c>GET /server/history/list</c> (<c>{"result": {"count", "jobs"}}</c>),
    /// its <c>result</c> object, or the <c>jobs</c> array alone. Per job: <c>job_id</c>, <c>filename</c>, <c>status</c>,
    /// <c>start_time</c> and <c>end_time</c> (epoch seconds), <c>print_duration</c> (s, printing only, pauses left out),
    /// <c>filament_used</c> (mm, measured extrusion), <c>metadata.filament_type</c> and <c>metadata.estimated_time</c>.
    /// <c>in_progress</c> jobs and jobs without an end are skipped; <c>line</c> in a skip is the job's index (1-based).
    /// </summary>
    public static List<HistoryJob> ReadMoonraker(Stream stream, List<SkippedEntry> skipped)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var jobs = new List<HistoryJob>();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            skipped.Add(new SkippedEntry(0, "not JSON: " + ex.Message));
            return jobs;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("result", out var result))
            {
                root = result;
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("jobs", out var list))
            {
                root = list;
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                skipped.Add(new SkippedEntry(0, "no \"jobs\" array (expected the answer of /server/history/list)"));
                return jobs;
            }

            var index = 0;
            foreach (var job in root.EnumerateArray())
            {
                index++;
                if (ReadMoonrakerJob(job, out var reason) is { } read)
                {
                    jobs.Add(read);
                }
                else
                {
                    skipped.Add(new SkippedEntry(index, reason!));
                }
            }
        }

        return jobs;
    }

    private static HistoryJob? ReadMoonrakerJob(JsonElement job, out string? reason)
    {
        reason = null;
        if (job.ValueKind != JsonValueKind.Object)
        {
            reason = "a job is not an object";
            return null;
        }

        var status = Text(job, "status");
        JobOutcome? outcome = status switch
        {
            "completed" => JobOutcome.Completed,
            "cancelled" => JobOutcome.Cancelled,
            // Klipper stopped it: an error, a shutdown, Klipper or Moonraker going away, or a print found unfinished
            // at start-up. All are failures of the job.
            "error" or "klippy_shutdown" or "klippy_disconnect" or "server_exit" or "interrupted" => JobOutcome.Failed,
            _ => null,
        };
        if (outcome is null)
        {
            reason = status == "in_progress" ? "still printing (status in_progress)" : $"status '{status ?? "(none)"}' is not completed, cancelled, error, klippy_shutdown, klippy_disconnect, server_exit or interrupted";
            return null;
        }

        var file = Text(job, "filename");
        var start = Number(job, "start_time");
        var end = Number(job, "end_time");
        if (string.IsNullOrWhiteSpace(file) || start is not > 0 || end is not { } e || e < start)
        {
            reason = "needs filename, start_time and an end_time not before it";
            return null;
        }

        var id = Text(job, "job_id") ?? string.Create(CultureInfo.InvariantCulture, $"{file}@{(long)start}");
        double? estimate = null;
        string? material = null;
        if (job.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object)
        {
            estimate = Number(metadata, "estimated_time");
            material = Text(metadata, "filament_type");
        }

        var filament = Number(job, "filament_used");
        return new HistoryJob(
            id,
            file,
            Epoch(start.Value),
            Epoch(e),
            outcome.Value,
            Number(job, "print_duration") is { } d and >= 0 ? d : null,
            filament is >= 0 ? filament : null,
            null,
            string.IsNullOrWhiteSpace(material) ? null : material,
            estimate is > 0 ? estimate : null);
    }

    /// <summary>
    /// An OctoPrint PrintJobHistory CSV export. Columns read (by header, in any order; others are ignored):
    /// <c>Print result [success canceled failed]</c>, <c>Start Datetime [dd.mm.yyyy hh:mm]</c>,
    /// <c>End Datetime [dd.mm.yyyy hh:mm]</c>, <c>Duration</c> (<c>1h2m3s</c> or seconds), <c>File Name</c>,
    /// <c>Material</c>, <c>Used Length [mm]</c>, <c>Used Weight [g]</c>. Times are the OctoPrint host's local time,
    /// read in <paramref name="zone"/>. <c>line</c> in a skip is the file's line number.
    /// </summary>
    public static List<HistoryJob> ReadPrintJobHistoryCsv(TextReader reader, TimeZoneInfo zone, List<SkippedEntry> skipped)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(zone);
        var jobs = new List<HistoryJob>();
        var rows = Csv(reader).GetEnumerator();
        if (!rows.MoveNext())
        {
            skipped.Add(new SkippedEntry(1, "empty file: no header"));
            return jobs;
        }

        var header = rows.Current.Fields.Select(h => h.Trim()).ToList();
        int Column(string name) => header.FindIndex(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
        var result = Column("Print result [success canceled failed]");
        var start = Column("Start Datetime [dd.mm.yyyy hh:mm]");
        var end = Column("End Datetime [dd.mm.yyyy hh:mm]");
        var duration = Column("Duration");
        var fileName = Column("File Name");
        var material = Column("Material");
        var usedLength = Column("Used Length [mm]");
        var usedWeight = Column("Used Weight [g]");
        if (result < 0 || start < 0 || duration < 0 || fileName < 0)
        {
            skipped.Add(new SkippedEntry(1, "the header needs 'Print result [success canceled failed]', 'Start Datetime [dd.mm.yyyy hh:mm]', 'Duration' and 'File Name' (a PrintJobHistory CSV export)"));
            return jobs;
        }

        while (rows.MoveNext())
        {
            var (line, fields) = rows.Current;
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue;
            }

            string? Field(int i) => i >= 0 && i < fields.Count && fields[i].Trim() is { Length: > 0 } v && v != "-" ? v : null;
            JobOutcome? outcome = Field(result) switch
            {
                "success" or "1" => JobOutcome.Completed,
                "canceled" or "0" => JobOutcome.Cancelled,
                "failed" or "2" => JobOutcome.Failed,
                _ => null,
            };
            var file = Field(fileName);
            var started = LocalTime(Field(start), zone);
            var seconds = Seconds(Field(duration));
            if (outcome is null || file is null || started is null || seconds is null)
            {
                skipped.Add(new SkippedEntry(line, "needs a print result (success, canceled, failed), a file name, a start time (dd.mm.yyyy hh:mm) and a duration"));
                continue;
            }

            // The end column has minutes only; start + duration is as precise, and the end when the column is empty.
            var ended = LocalTime(Field(end), zone) is { } e && e > started.Value + TimeSpan.FromSeconds(seconds.Value) + TimeSpan.FromMinutes(1)
                ? e
                : started.Value + TimeSpan.FromSeconds(seconds.Value);
            jobs.Add(new HistoryJob(
                string.Create(CultureInfo.InvariantCulture, $"{file}@{started.Value.ToUnixTimeSeconds()}"),
                file,
                started.Value,
                ended,
                outcome.Value,
                seconds,
                Number(Field(usedLength)),
                Number(Field(usedWeight)),
                Field(material),
                null));
        }

        return jobs;
    }

    // "1h2m3s", "2d3h", "45m", or a number of seconds ("3723" or "3723.5").
    internal static double? Seconds(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            return plain >= 0 ? plain : null;
        }

        double total = 0;
        var number = 0.0;
        var digits = false;
        foreach (var c in text.Replace(" ", string.Empty, StringComparison.Ordinal))
        {
            if (char.IsAsciiDigit(c))
            {
                number = (number * 10) + (c - '0');
                digits = true;
                continue;
            }

            var unit = char.ToLowerInvariant(c) switch { 'd' => 86400, 'h' => 3600, 'm' => 60, 's' => 1, _ => 0 };
            if (unit == 0 || !digits)
            {
                return null;
            }

            total += number * unit;
            number = 0;
            digits = false;
        }

        return digits ? null : total;
    }

    private static DateTimeOffset? LocalTime(string? text, TimeZoneInfo zone)
    {
        if (text is null || !DateTime.TryParseExact(text, ["dd.MM.yyyy HH:mm", "d.M.yyyy H:mm", "dd.MM.yyyy HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return null;
        }

        var offset = zone.GetUtcOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified));
        return new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), offset).ToUniversalTime();
    }

    private static double? Number(string? text) =>
        text is not null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : null;

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Number(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    // Epoch seconds with a fraction (Moonraker's time.time()), to the tick.
    private static DateTimeOffset Epoch(double seconds) => DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    // RFC 4180: fields separated by commas, quoted with '"' (a quote inside doubled), a quoted field may span lines.
    private static IEnumerable<(int Line, List<string> Fields)> Csv(TextReader reader)
    {
        var line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            var first = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            var i = 0;
            while (true)
            {
                if (i == text.Length)
                {
                    if (quoted && reader.ReadLine() is { } next)
                    {
                        line++;
                        field.Append('\n');
                        text = next;
                        i = 0;
                        continue;
                    }

                    break;
                }

                var c = text[i++];
                if (quoted)
                {
                    if (c == '"' && i < text.Length && text[i] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (c == '"')
                    {
                        quoted = false;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == '"')
                {
                    quoted = true;
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else
                {
                    field.Append(c);
                }
            }

            fields.Add(field.ToString());
            yield return (first, fields);
        }
    }
}
