using System.Globalization;
using PrintFarm.Core.Events;
using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Jobs;

/// <summary>
/// Follows every printer's current job: <see cref="EventKind.JobStarted"/> opens it, <see cref="EventKind.JobFinished"/>
/// closes it into an <see cref="EndedJob"/>. Redelivered or replayed events (MQTT QoS 1 is at-least-once) are
/// recognised by job key and never end a job twice. State is O(1) per printer: the open job and a small ring of
/// recently ended job keys.
/// </summary>
public sealed class JobTracker
{
    /// <summary>How many ended-job keys each printer remembers for de-duplication.</summary>
    public const int RecentKeysPerPrinter = 32;

    private readonly Dictionary<string, PrinterJobs> _printers = new(StringComparer.Ordinal);
    private readonly ToyNameRules _toyRules;
    private readonly MaterialCatalog _materials;
    private readonly IReadOnlyDictionary<string, string>? _printerMaterials;

    /// <summary>Creates a tracker that resolves toys and grams with the given rules.</summary>
    /// <param name="toyRules">Toy name and quantity from file names.</param>
    /// <param name="materials">Material names, densities and the default material.</param>
    /// <param name="printerMaterials">
    /// Material loaded on each printer (printer id → material), used when neither the events nor the file name
    /// (<see cref="MaterialFromFileName"/>) name one; <see langword="null"/> or a missing printer means the default material.
    /// </param>
    public JobTracker(ToyNameRules toyRules, MaterialCatalog materials, IReadOnlyDictionary<string, string>? printerMaterials = null)
    {
        _toyRules = toyRules;
        _materials = materials;
        _printerMaterials = printerMaterials;
    }

    /// <summary>Printers with an open job.</summary>
    public int OpenJobs => _printers.Values.Count(p => p.Open is not null);

    /// <summary>Events ignored as duplicates (redelivered start or finish).</summary>
    public long Duplicates { get; private set; }

    /// <summary>The open job of <paramref name="printer"/>, if any.</summary>
    public OpenJob? GetOpenJob(string printer) => _printers.TryGetValue(printer, out var p) ? p.Open : null;

    /// <summary>
    /// Applies <paramref name="e"/>; jobs it ends are appended to <paramref name="ended"/>. Returns the job it opened,
    /// if it opened one (so the caller needs no second look-up on the hot path).
    /// </summary>
    public OpenJob? Apply(PrinterEvent e, List<EndedJob> ended)
    {
        ArgumentNullException.ThrowIfNull(e);
        var state = GetState(e.Printer);
        switch (e.Kind)
        {
            case EventKind.JobStarted:
                var before = state.Open;
                Start(state, e, ended);
                return ReferenceEquals(state.Open, before) ? null : state.Open;
            case EventKind.JobFinished:
                Finish(state, e, ended);
                break;
            case EventKind.JobProgress:
            case EventKind.Status:
                if (state.Open is { } open && e.ProgressPercent is { } progress)
                {
                    open.LastProgressPercent = progress;
                }

                break;
        }

        return null;
    }

    private void Start(PrinterJobs state, PrinterEvent e, List<EndedJob> ended)
    {
        var key = e.JobId ?? StartKey(e.Printer, e.Timestamp);

        // A redelivered start of a job that already ended, or a stale one older than the running job, must not touch
        // the running job.
        if (state.RecentlyEnded(key) || (state.Open is { } running && e.Timestamp < running.Start))
        {
            Duplicates++;
            return;
        }

        if (state.Open is { } open)
        {
            if (open.Key == key || (e.JobId is null && open.JobId is null && open.Start == e.Timestamp))
            {
                Duplicates++;
                return;
            }

            // A new start while a job is open: the printer moved on, so the old job was cancelled.
            ended.Add(Close(state, open, CancelledBy(e, open)));
        }

        state.Open = new OpenJob
        {
            Key = key,
            JobId = e.JobId,
            Source = e.Source,
            Start = e.Timestamp,
            File = e.File,
            Toy = e.Toy,
            Quantity = e.Quantity,
            Material = e.Material,
            EstimatedTimeSeconds = e.EstimatedTimeSeconds,
            LastProgressPercent = e.ProgressPercent,
        };
    }

    private void Finish(PrinterJobs state, PrinterEvent e, List<EndedJob> ended)
    {
        // A redelivered finish is recognised before anything else: stamped in the second the next job started, it
        // would otherwise look like that job's finish.
        var endKey = e.JobId ?? EndKey(e.Timestamp, e.File);
        if (state.RecentlyEnded(endKey))
        {
            Duplicates++;
            return;
        }

        var open = state.Open;
        var belongsToOpen = open is not null
            && (e.JobId is null || open.JobId is null ? e.Timestamp >= open.Start : e.JobId == open.JobId);

        if (belongsToOpen)
        {
            ended.Add(Close(state, open!, e));
            return;
        }

        // No matching open job: a job whose start we never saw (the worker started mid-print). It still counts.
        // The print time cannot reach back before the calendar's start.
        var printTime = Math.Min(e.PrintTimeSeconds ?? 0, (e.Timestamp - DateTimeOffset.MinValue).TotalSeconds);
        var orphan = new OpenJob
        {
            Key = e.JobId ?? StartKey(e.Printer, e.Timestamp.AddSeconds(-printTime)),
            JobId = e.JobId,
            Source = e.Source,
            Start = e.Timestamp.AddSeconds(-printTime),
        };
        ended.Add(Close(state, orphan, e));
    }

    private EndedJob Close(PrinterJobs state, OpenJob open, PrinterEvent end)
    {
        // Names are sanitized here once more for every source (docs/data-model.md, "Names"): a label never costs a job.
        var file = TagValue.CleanFile(end.File ?? open.File) ?? string.Empty;
        var fromName = _toyRules.Parse(file);
        var material = TagValue.Clean(_materials.Resolve(end.Material ?? open.Material ?? FallbackMaterial(end.Printer, file)), _materials.DefaultMaterial);
        var printTime = end.PrintTimeSeconds ?? Math.Max(0, (end.Timestamp - open.Start).TotalSeconds);

        double grams = 0;
        double? millimetres = end.FilamentMillimetres;
        var filamentSource = end.FilamentSource;
        if (end.FilamentGrams is { } g)
        {
            grams = g;
        }
        else if (millimetres is { } mm)
        {
            grams = _materials.GramsFromMillimetres(mm, material);
        }
        else
        {
            filamentSource = FilamentSource.Unknown;
        }

        double? cost = filamentSource != FilamentSource.Unknown && _materials.Info(material).PricePerKg is { } pricePerKg
            ? grams / 1000.0 * pricePerKg
            : null;

        var job = new EndedJob
        {
            Printer = end.Printer,
            Source = open.Source,
            JobId = TagValue.CleanFile(open.JobId) ?? open.Key,
            File = file,
            Toy = TagValue.Clean(end.Toy ?? open.Toy ?? fromName.Toy),
            Quantity = end.Quantity ?? open.Quantity ?? fromName.Quantity,
            Material = material,
            Outcome = end.Outcome ?? JobOutcome.Cancelled,
            Reason = FailureReasons.ForOutcome(end.Outcome ?? JobOutcome.Cancelled, end.Reason),
            ReasonDetail = (end.Outcome ?? JobOutcome.Cancelled) == JobOutcome.Completed ? null : end.ReasonDetail,
            ReasonSource = (end.Outcome ?? JobOutcome.Cancelled) == JobOutcome.Completed ? null : FailureReasons.FromPrinter,
            Start = open.Start,
            End = state.UniqueEnd(end.Timestamp),
            PrintTimeSeconds = printTime,
            FilamentGrams = grams,
            FilamentMillimetres = millimetres,
            FilamentSource = filamentSource,
            EstimatedTimeSeconds = end.EstimatedTimeSeconds ?? open.EstimatedTimeSeconds,
            MaterialCost = cost,
        };

        if (ReferenceEquals(state.Open, open))
        {
            state.Open = null;
        }

        state.Remember(open.Key);
        state.Remember(end.JobId ?? EndKey(end.Timestamp, end.File));
        return job;
    }

    /// <summary>Open jobs and recently ended keys of every printer, for a checkpoint.</summary>
    public JobTrackerState SaveState() => new()
    {
        Printers = _printers
            .Where(kv => kv.Value.Open is not null || kv.Value.HasRecent)
            .Select(kv => new JobTrackerState.PrinterState { Printer = kv.Key, Open = kv.Value.Open, RecentlyEnded = kv.Value.Recent().ToList(), RecentEndTimes = kv.Value.RecentEnds().ToList() })
            .ToList(),
    };

    /// <summary>Replaces the tracker's state with a saved one.</summary>
    public void RestoreState(JobTrackerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _printers.Clear();
        foreach (var p in state.Printers)
        {
            var printer = new PrinterJobs { Open = p.Open };
            foreach (var key in p.RecentlyEnded)
            {
                printer.Remember(key);
            }

            foreach (var ms in p.RecentEndTimes)
            {
                printer.RememberEnd(ms);
            }

            _printers[p.Printer] = printer;
        }
    }

    // Material precedence after the events' own: a token in the file name, then the printer's configured material;
    // null lets the catalog fall back to the default material.
    private string? FallbackMaterial(string printer, string file) =>
        MaterialFromFileName.Find(file)
        ?? (_printerMaterials is not null && _printerMaterials.TryGetValue(printer, out var configured) ? configured : null);

    private static PrinterEvent CancelledBy(PrinterEvent next, OpenJob open) => new()
    {
        Kind = EventKind.JobFinished,
        Printer = next.Printer,
        Source = open.Source,
        Timestamp = next.Timestamp,
        JobId = open.JobId,
        Outcome = JobOutcome.Cancelled,
        ReasonDetail = "replaced by the next job's start",
    };

    private PrinterJobs GetState(string printer)
    {
        if (!_printers.TryGetValue(printer, out var state))
        {
            state = new PrinterJobs();
            _printers.Add(printer, state);
        }

        return state;
    }

    private static string StartKey(string printer, DateTimeOffset start) =>
        string.Create(CultureInfo.InvariantCulture, $"{printer}@{start.ToUnixTimeMilliseconds()}");

    private static string EndKey(DateTimeOffset end, string? file) =>
        string.Create(CultureInfo.InvariantCulture, $"end@{end.ToUnixTimeMilliseconds()}|{file}");

    private sealed class PrinterJobs
    {
        private readonly string[] _recent = new string[RecentKeysPerPrinter];
        private readonly long?[] _recentEnds = new long?[RecentKeysPerPrinter];
        private int _next;
        private int _nextEnd;

        // A job point's series is its printer, toy, material and outcome, and its timestamp the end in milliseconds:
        // two distinct jobs of one printer ending in the same millisecond (a backlog delivered in a burst, a source
        // without a clock) would be one point in InfluxDB. The later one moves to the next free millisecond.
        public DateTimeOffset UniqueEnd(DateTimeOffset end)
        {
            var ms = end.ToUnixTimeMilliseconds();
            var unique = ms;
            while (Array.IndexOf(_recentEnds, unique) >= 0)
            {
                unique++;
            }

            RememberEnd(unique);
            return unique == ms ? end : DateTimeOffset.FromUnixTimeMilliseconds(unique);
        }

        public void RememberEnd(long ms)
        {
            _recentEnds[_nextEnd] = ms;
            _nextEnd = (_nextEnd + 1) % _recentEnds.Length;
        }

        // Oldest first.
        public IEnumerable<long> RecentEnds()
        {
            for (var i = 0; i < _recentEnds.Length; i++)
            {
                if (_recentEnds[(_nextEnd + i) % _recentEnds.Length] is { } ms)
                {
                    yield return ms;
                }
            }
        }

        public OpenJob? Open { get; set; }

        public bool HasRecent => _recent[0] is not null || _recentEnds[0] is not null;

        public bool RecentlyEnded(string key) => Array.IndexOf(_recent, key) >= 0;

        // Oldest first, so restoring by Remember() in this order rebuilds the same ring.
        public IEnumerable<string> Recent()
        {
            for (var i = 0; i < _recent.Length; i++)
            {
                var key = _recent[(_next + i) % _recent.Length];
                if (key is not null)
                {
                    yield return key;
                }
            }
        }

        public void Remember(string key)
        {
            if (RecentlyEnded(key))
            {
                return;
            }

            _recent[_next] = key;
            _next = (_next + 1) % _recent.Length;
        }
    }
}

/// <summary>A job that has started and not yet ended.</summary>
public sealed class OpenJob
{
    /// <summary>De-duplication key: the job id, or printer and start time.</summary>
    public required string Key { get; init; }

    /// <summary>The printer's job id, when it has one.</summary>
    public string? JobId { get; init; }

    /// <summary>Adapter that opened the job.</summary>
    public required string Source { get; init; }

    /// <summary>Event time of the start.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>G-code file, when known.</summary>
    public string? File { get; init; }

    /// <summary>Toy, when the start event named it.</summary>
    public string? Toy { get; init; }

    /// <summary>Quantity, when the start event named it.</summary>
    public int? Quantity { get; init; }

    /// <summary>Material, when the start event named it.</summary>
    public string? Material { get; init; }

    /// <summary>Slicer estimate, seconds.</summary>
    public double? EstimatedTimeSeconds { get; init; }

    /// <summary>Last progress seen, percent.</summary>
    public double? LastProgressPercent { get; set; }
}

/// <summary>A checkpoint of the <see cref="JobTracker"/>: plain data, serialized as JSON by the host.</summary>
public sealed class JobTrackerState
{
    /// <summary>Printers with an open job or recently ended ones.</summary>
    public List<PrinterState> Printers { get; set; } = [];

    /// <summary>One printer's jobs.</summary>
    public sealed class PrinterState
    {
        /// <summary>Printer id.</summary>
        public string Printer { get; set; } = string.Empty;

        /// <summary>The open job, if any.</summary>
        public OpenJob? Open { get; set; }

        /// <summary>Keys of recently ended jobs, oldest first.</summary>
        public List<string> RecentlyEnded { get; set; } = [];

        /// <summary>End times (epoch ms) of the job points recently written, oldest first; absent in older checkpoints.</summary>
        public List<long> RecentEndTimes { get; set; } = [];
    }
}
