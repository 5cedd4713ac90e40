using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Checkpoints;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Import;

/// <summary>What <c>import</c> was asked for.</summary>
internal sealed record ImportArguments(string Kind, string File, string? Printer, DateTimeOffset? Until, IReadOnlyList<string> ConfigurationArgs);

/// <summary>
/// <c>import</c>: loads a farm's history — a simulator trace, a Moonraker job history dump or an OctoPrint
/// PrintJobHistory CSV export — through the same processor as live telemetry, in event-time order, and writes its
/// <c>job</c> and <c>kpi</c> points to InfluxDB.
/// <para>
/// It runs as its own process and holds the data folder's lock, so it never runs beside a worker on that folder (their
/// writes of the same window would overwrite each other in turn). Every window is computed from the file alone, from
/// nothing, as a live worker would have computed it, so importing a file again writes the same points with the same
/// keys (InfluxDB overwrites them with equal values) and changes nothing. On a data folder the worker has never used,
/// the import's final state becomes the worker's checkpoint: the windows still open at the history's end (today's day)
/// go on counting live jobs. Once the worker has state, the import leaves the windows it owns to it: no point of a
/// window that ends after the cut, nor of a job that ends at or after it (docs/operations.md, "Loading history").
/// </para>
/// Exit codes: 0 imported, 1 the database refused or could not be reached, 2 invalid configuration or a data folder in
/// use, 64 bad arguments, 66 the file cannot be read.
/// </summary>
internal static class ImportCommand
{
    /// <summary>The command's name, the first argument.</summary>
    public const string Name = "import";

    /// <summary>Exit code of a write that failed.</summary>
    public const int WriteFailed = 1;

    /// <summary>Exit code of bad arguments (BSD <c>EX_USAGE</c>).</summary>
    public const int BadArguments = 64;

    /// <summary>Exit code of a file that cannot be read (BSD <c>EX_NOINPUT</c>).</summary>
    public const int NoInput = 66;

    /// <summary>The handover record in the data folder: the cut left to the worker when the import's state became its checkpoint.</summary>
    public const string HandoverFile = "import-handover.json";

    private const int BatchLines = 5000;
    private const int MaxSkipLines = 20;

    private static readonly string[] Kinds = ["trace", "moonraker", "octoprint-csv"];

    public const string Usage = """
usage: PrintFarm.Worker import trace|moonraker|octoprint-csv FILE [--printer ID] [--until ISO-TIME]
                               [--PrintFarm:Key=value ...]     (from a checkout: ./build.sh run import ...)
Loads a farm's history through the same job tracking and KPI windows as live telemetry and writes its job and kpi
points to InfluxDB (PrintFarm:Influx:*, PrintFarm:Farm, PrintFarm:Windows). Run it while the worker is stopped.
  trace          a simulator trace (printfarm-sim --trace FILE): JSON lines of MQTT messages
  moonraker      a Moonraker job history dump (GET /server/history/list); needs --printer
  octoprint-csv  an OctoPrint PrintJobHistory CSV export; needs --printer; times in PrintFarm:TimeZone
  --printer ID   the printer the history belongs to (one file per printer)
  --until T      write no job ending at or after T and no window ending after T (default: the worker's own cut)
Importing the same file again changes nothing. docs/operations.md, "Loading history".
Exit codes: 0 imported, 1 database refused or unreachable, 2 invalid configuration or data folder in use,
64 bad arguments, 66 file not readable.
""";

    /// <summary>True when <paramref name="args"/> names this command.</summary>
    public static bool IsCommand(IReadOnlyList<string> args) => args is [Name, ..];

    /// <summary>Parses the arguments after <c>import</c>; what starts with <c>--PrintFarm:</c> or <c>--Serilog:</c> is configuration.</summary>
    /// <exception cref="FormatException">An unknown option, a bad value, or a missing one.</exception>
    public static ImportArguments Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? printer = null;
        DateTimeOffset? until = null;
        var positional = new List<string>();
        var configuration = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{a} needs a value");
            switch (a)
            {
                case "--printer":
                    printer = Value();
                    break;
                case "--until":
                    var u = Value();
                    until = DateTimeOffset.TryParse(u, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                        ? t.ToUniversalTime()
                        : throw new FormatException($"--until '{u}' is not a time: use ISO 8601, for example 2026-01-05T06:00:00Z");
                    break;
                default:
                    if (PrintFarm.Worker.Operations.KpisCommand.TakeConfiguration(args, ref i, configuration))
                    {
                        break;
                    }

                    if (a.StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new FormatException($"unknown option '{a}'");
                    }

                    positional.Add(a);
                    break;
            }
        }

        if (positional.Count != 2)
        {
            throw new FormatException("needs a kind and a file");
        }

        var kind = positional[0];
        if (!Kinds.Contains(kind, StringComparer.Ordinal))
        {
            throw new FormatException($"kind '{kind}' is not one of {string.Join(", ", Kinds)}");
        }

        if (kind != "trace" && string.IsNullOrWhiteSpace(printer))
        {
            throw new FormatException($"{kind} needs --printer ID: the file does not name its printer");
        }

        if (kind == "trace" && printer is not null)
        {
            throw new FormatException("a trace names its printers in its topics: --printer does not apply");
        }

        return new ImportArguments(kind, positional[1], printer, until, configuration);
    }

    /// <summary>Imports and prints a summary; returns the exit code. Errors go to <paramref name="error"/>.</summary>
    /// <exception cref="StartupRefusedException">A worker holds the data folder.</exception>
    public static async Task<int> RunAsync(IServiceProvider services, ImportArguments arguments, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        _ = services.GetRequiredService<DataFolderLock>(); // refused while a worker runs on the folder
        var folders = services.GetRequiredService<DataFolders>();
        var checkpoints = services.GetRequiredService<CheckpointStore>();
        var journal = services.GetRequiredService<MessageJournal>();

        // Read the file before anything else: a file that cannot be read changes nothing.
        var skipped = new List<SkippedEntry>();
        List<TraceMessage>? trace = null;
        List<HistoryJob>? jobs = null;
        try
        {
            switch (arguments.Kind)
            {
                case "trace":
                    using (var reader = new StreamReader(arguments.File))
                    {
                        trace = HistoryFiles.ReadTrace(reader, skipped);
                    }

                    break;
                case "moonraker":
                    using (var stream = File.OpenRead(arguments.File))
                    {
                        jobs = HistoryFiles.ReadMoonraker(stream, skipped);
                    }

                    break;
                default:
                    PrintFarmOptionsValidator.TryTimeZone(options.TimeZone, out var zone);
                    using (var reader = new StreamReader(arguments.File))
                    {
                        jobs = HistoryFiles.ReadPrintJobHistoryCsv(reader, zone ?? TimeZoneInfo.Utc, skipped);
                    }

                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"import: cannot read {arguments.File}: {ex.Message}").ConfigureAwait(false);
            return NoInput;
        }

        // The cut: none on a folder the worker never used (the state is handed over), else the handover's or the
        // worker's own (its oldest open window), or --until when earlier.
        var handover = checkpoints.Candidates().Count == 0 && journal.Start == journal.End && journal.Start.Segment == 0;
        DateTimeOffset? cut = null;
        if (!handover)
        {
            try
            {
                cut = WorkerCut(services, folders, checkpoints);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or CheckpointException or InvalidOperationException or FormatException)
            {
                await error.WriteLineAsync($"import: the worker's state in {checkpoints.Folder} cannot be read ({ex.Message}); start the worker once so it writes a checkpoint, stop it, then import, or pass --until").ConfigureAwait(false);
                if (arguments.Until is null)
                {
                    return 2;
                }
            }
        }

        if (arguments.Until is { } until && (cut is null || until < cut))
        {
            cut = until;
            handover = false; // a history cut short is not the worker's past: its state is not handed over
        }

        var processor = PrintFarmHostingExtensions.CreateProcessor(
            services,
            alerts: false,
            new Core.Normalization.CardinalityGuard(new Core.Normalization.CardinalityLimits
            {
                MaxPrinters = options.Guards.MaxPrinters,
                MaxToys = options.Guards.MaxToys,
                MaxMaterials = options.Guards.MaxMaterials,
                AllowedPrinters = options.Guards.AllowedPrinters,
            }),
            cut);
        var sink = services.GetRequiredService<ILineSink>();
        var run = new ImportRun(processor, sink, cut);
        try
        {
            if (trace is not null)
            {
                await run.ImportTraceAsync(trace, skipped, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await run.ImportJobsAsync(jobs!, arguments.Printer!, arguments.Kind == "moonraker" ? "moonraker" : "octoprint", skipped, cancellationToken).ConfigureAwait(false);
            }

            await run.FinishAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ImportWriteException ex)
        {
            await error.WriteLineAsync($"import: {ex.Message}; nothing else was written, run the import again once the database takes writes (it changes nothing already written)").ConfigureAwait(false);
            return WriteFailed;
        }

        string state;
        if (handover)
        {
            var left = HandOver(processor, checkpoints, journal, folders, arguments.File);
            state = left is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"handed to the worker (its checkpoint): windows from {c:yyyy-MM-dd HH:mm} UTC on go on with live jobs")
                : "handed to the worker (its checkpoint)";
        }
        else
        {
            state = cut is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"the worker's own from {c:yyyy-MM-dd HH:mm} UTC on (the cut): nothing written from there")
                : "not kept";
        }

        foreach (var s in skipped.Take(MaxSkipLines))
        {
            await error.WriteLineAsync(s.Line > 0 ? $"import: skipped {arguments.File}:{s.Line}: {s.Reason}" : $"import: skipped {arguments.File}: {s.Reason}").ConfigureAwait(false);
        }

        if (skipped.Count > MaxSkipLines)
        {
            await error.WriteLineAsync($"import: … and {skipped.Count - MaxSkipLines} more skipped").ConfigureAwait(false);
        }

        await output.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture,
            $"import {arguments.Kind} {arguments.File}: {run.JobsImported} jobs imported, {skipped.Count + run.Rejected} entries skipped, {run.JobsAfterCut} jobs left to the worker (after the cut), {run.WindowsWritten} KPI windows written ({run.LinesWritten} points) for farm '{options.Farm}'; state {state}")).ConfigureAwait(false);
        return 0;
    }

    // The worker's cut: recorded at a handover, else the start of the oldest window its checkpoint holds open (or its
    // watermark when none is open).
    private static DateTimeOffset? WorkerCut(IServiceProvider services, DataFolders folders, CheckpointStore checkpoints)
    {
        var record = Path.Combine(folders.Root, HandoverFile);
        if (File.Exists(record))
        {
            var node = JsonNode.Parse(File.ReadAllText(record));
            if (node?["cut"]?.GetValue<string>() is { } text)
            {
                return DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUniversalTime();
            }
        }

        var candidates = checkpoints.Candidates();
        var newest = candidates.Count > 0 ? candidates[0] : null;
        if (newest is null)
        {
            // The journal holds messages no checkpoint covers yet: the worker's windows are unknown.
            throw new InvalidOperationException("the journal holds messages and there is no checkpoint yet");
        }

        var scratch = PrintFarmHostingExtensions.CreateProcessor(services, alerts: false, new Core.Normalization.CardinalityGuard(new Core.Normalization.CardinalityLimits()));
        using (var stream = File.OpenRead(newest))
        {
            scratch.RestoreCheckpoint(JsonNode.Parse(stream) as JsonObject ?? throw new JsonException("the checkpoint is not a JSON object"));
        }

        return OldestOpen(scratch.Kpis);
    }

    private static DateTimeOffset? OldestOpen(KpiEngine kpis)
    {
        var state = kpis.SaveState();
        if (state.Windows.Count > 0)
        {
            return new DateTimeOffset(state.Windows.Min(w => w.Start), TimeSpan.Zero);
        }

        return kpis.Watermark;
    }

    // The import's state becomes the worker's checkpoint, at the journal's end (it is empty: nothing to replay), and the
    // cut it leaves is recorded for later imports.
    private static DateTimeOffset? HandOver(TelemetryProcessor processor, CheckpointStore checkpoints, MessageJournal journal, DataFolders folders, string file)
    {
        var position = journal.End;
        checkpoints.Save(processor.CaptureCheckpoint(DateTimeOffset.UtcNow), position, writer => Alerts.AlertQueue.WriteOutbox(writer, []));
        var cut = OldestOpen(processor.Kpis);
        var record = new JsonObject
        {
            ["cut"] = cut?.ToString("O", CultureInfo.InvariantCulture),
            ["file"] = Path.GetFullPath(file),
            ["imported_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
        var path = Path.Combine(folders.Root, HandoverFile);
        File.WriteAllText(path + ".tmp", record.ToJsonString());
        File.Move(path + ".tmp", path, overwrite: true);
        return cut;
    }

    /// <summary>Feeds one history through the processor, flushing as event time advances, and writes its lines in batches.</summary>
    private sealed class ImportRun(TelemetryProcessor processor, ILineSink sink, DateTimeOffset? cut)
    {
        // Windows are flushed every minute of event time, as a live worker flushes every few seconds of its clock:
        // what is emitted for a window last is the same either way (a closed window's totals), and memory stays bounded.
        private static readonly TimeSpan FlushEvery = TimeSpan.FromMinutes(1);

        private readonly ProcessorOutput _output = new() { KeepKpiPoints = true };
        private readonly List<string> _pending = [];
        private readonly HashSet<(string Window, DateTimeOffset Start, KpiScope Scope, string Subject)> _windows = [];
        private DateTimeOffset? _lastFlush;

        public int JobsImported { get; private set; }

        public int JobsAfterCut { get; private set; }

        public int Rejected { get; private set; }

        public long LinesWritten { get; private set; }

        public int WindowsWritten => _windows.Count;

        public async Task ImportTraceAsync(List<TraceMessage> messages, List<SkippedEntry> skipped, CancellationToken cancellationToken)
        {
            // Stable: a second's messages keep their order (a cancel's two events).
            var ordered = messages.Select((m, i) => (m, i)).OrderBy(x => x.m.Time).ThenBy(x => x.i).Select(x => x.m);
            foreach (var m in ordered)
            {
                await MaybeFlushAsync(m.Time, cancellationToken).ConfigureAwait(false);
                var result = processor.Process(new InboundMessage(m.Topic, m.Payload, false, m.Time), _output);
                if (!result.Accepted)
                {
                    // Bad input in a trace (the simulator writes malformed messages on purpose) is what the live worker
                    // would dead-letter: counted here, not imported.
                    Rejected++;
                }

                Collect();
                await WriteIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task ImportJobsAsync(List<HistoryJob> jobs, string printer, string source, List<SkippedEntry> skipped, CancellationToken cancellationToken)
        {
            if (!processor.TryAdmitPrinter(printer, out var admitted, out var problem))
            {
                skipped.Add(new SkippedEntry(0, $"printer '{printer}': {problem}"));
                return;
            }

            // Each job is a start and an end; an end sorts before a start at the same instant, so a job that starts when
            // the previous one ends does not cancel it.
            var events = new List<(DateTimeOffset At, int Order, PrinterEvent Event)>(jobs.Count * 2);
            foreach (var j in jobs)
            {
                events.Add((j.Start, 1, new PrinterEvent
                {
                    Kind = EventKind.JobStarted,
                    Printer = admitted,
                    Source = source,
                    Timestamp = j.Start,
                    JobId = j.JobId,
                    File = j.File,
                    Material = j.Material,
                    EstimatedTimeSeconds = j.EstimatedTimeSeconds,
                    State = "printing",
                }));
                var hasFilament = j.FilamentGrams is not null || j.FilamentMillimetres is not null;
                events.Add((j.End, 0, new PrinterEvent
                {
                    Kind = EventKind.JobFinished,
                    Printer = admitted,
                    Source = source,
                    Timestamp = j.End,
                    JobId = j.JobId,
                    File = j.File,
                    Material = j.Material,
                    Outcome = j.Outcome,
                    PrintTimeSeconds = j.PrintTimeSeconds,
                    FilamentGrams = j.FilamentGrams,
                    FilamentMillimetres = j.FilamentMillimetres,
                    FilamentSource = hasFilament ? FilamentSource.Measured : FilamentSource.Unknown,
                    EstimatedTimeSeconds = j.EstimatedTimeSeconds,
                    State = "idle",
                }));
            }

            foreach (var (at, _, e) in events.OrderBy(x => x.At).ThenBy(x => x.Order))
            {
                await MaybeFlushAsync(at, cancellationToken).ConfigureAwait(false);
                processor.Replay(e, _output);
                Collect();
                await WriteIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task FinishAsync(CancellationToken cancellationToken)
        {
            processor.Flush(_output);
            Collect();
            await WriteAsync(cancellationToken).ConfigureAwait(false);
        }

        private async Task MaybeFlushAsync(DateTimeOffset at, CancellationToken cancellationToken)
        {
            if (_lastFlush is { } last && at - last < FlushEvery)
            {
                return;
            }

            _lastFlush = at;
            processor.Flush(_output);
            Collect();
            await WriteIfFullAsync(cancellationToken).ConfigureAwait(false);
        }

        private void Collect()
        {
            foreach (var job in _output.EndedJobs)
            {
                if (cut is { } c && job.End >= c)
                {
                    JobsAfterCut++;
                }
                else
                {
                    JobsImported++;
                }
            }

            foreach (var k in _output.KpiPoints)
            {
                _windows.Add((k.Window.Name, k.WindowStart, k.Scope, k.Subject));
            }

            _pending.AddRange(_output.Lines);
            _output.Clear();
        }

        private Task WriteIfFullAsync(CancellationToken cancellationToken) => _pending.Count >= BatchLines ? WriteAsync(cancellationToken) : Task.CompletedTask;

        // Retries what can succeed later (network, 429, 5xx) a few times; anything else ends the import.
        private async Task WriteAsync(CancellationToken cancellationToken)
        {
            for (var start = 0; start < _pending.Count; start += BatchLines)
            {
                var batch = LineBuffer.Of(_pending, start, Math.Min(BatchLines, _pending.Count - start));
                for (var attempt = 1; ; attempt++)
                {
                    var result = await sink.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    if (result.Status == WriteStatus.Ok)
                    {
                        LinesWritten += batch.Count;
                        break;
                    }

                    if (result.Status != WriteStatus.Transient || attempt == 5)
                    {
                        throw new ImportWriteException($"InfluxDB refused a batch ({result.StatusText}): {result.Error}{(result.Hint is null ? string.Empty : " " + result.Hint)}");
                    }

                    await Task.Delay(result.RetryAfter ?? TimeSpan.FromSeconds(attempt), cancellationToken).ConfigureAwait(false);
                }
            }

            _pending.Clear();
        }
    }

    private sealed class ImportWriteException(string message) : Exception(message);
}
