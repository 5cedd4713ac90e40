using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;

namespace PrintFarm.Core.Normalization;

/// <summary>Limits of a <see cref="CardinalityGuard"/>.</summary>
public sealed class CardinalityLimits
{
    /// <summary>Distinct printer ids kept. Default 2000 (a 1,000-printer farm, with room for renames).</summary>
    public int MaxPrinters { get; init; } = 2000;

    /// <summary>Distinct toy names kept. Default 5000.</summary>
    public int MaxToys { get; init; } = 5000;

    /// <summary>Distinct material names kept. Default 100.</summary>
    public int MaxMaterials { get; init; } = 100;

    /// <summary>When not empty, the only printer ids accepted. Default empty (all).</summary>
    public IReadOnlyCollection<string> AllowedPrinters { get; init; } = [];
}

/// <summary>
/// Keeps the number of distinct printer, toy and material tag values bounded, so one misbehaving device (a printer
/// id with a counter in it, a slicer that stamps a time into every file name) cannot create unbounded series in
/// InfluxDB. The first values seen are kept; once a cap is reached, new values fold into <see cref="Other"/>.
/// Values already kept stay kept. Optionally only allow-listed printers are admitted. Not thread-safe (one
/// pipeline drives it); the counters may be read from any thread.
/// </summary>
public sealed class CardinalityGuard
{
    /// <summary>The tag value that values past a cap fold into.</summary>
    public const string Other = "other";

    /// <summary>Dead-letter reason of a message from a printer not on the allow-list.</summary>
    public const string UnknownPrinter = "unknown_printer";

    private readonly HashSet<string>? _allowed;

    /// <summary>Creates a guard.</summary>
    public CardinalityGuard(CardinalityLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Printers = new Cap("printer", limits.MaxPrinters);
        Toys = new Cap("toy", limits.MaxToys);
        Materials = new Cap("material", limits.MaxMaterials);
        _allowed = limits.AllowedPrinters.Count == 0 ? null : new HashSet<string>(limits.AllowedPrinters, StringComparer.Ordinal);
    }

    /// <summary>The printer cap.</summary>
    public Cap Printers { get; }

    /// <summary>The toy cap.</summary>
    public Cap Toys { get; }

    /// <summary>The material cap.</summary>
    public Cap Materials { get; }

    /// <summary>All three caps.</summary>
    public IEnumerable<Cap> Caps => [Printers, Toys, Materials];

    /// <summary>
    /// False when an allow-list is set and <paramref name="match"/>'s printer is not on it. Otherwise true, with the
    /// printer folded into <see cref="Other"/> when it is new and the printer cap is reached. Takes no slot: a new
    /// printer is kept only by <see cref="AdmitPrinter(string)"/>, once its message was accepted, so junk topics and
    /// invalid payloads cannot fill the cap.
    /// </summary>
    public bool AdmitPrinter(ref TopicMatch match, out string? problem)
    {
        if (_allowed is not null && !_allowed.Contains(match.Printer))
        {
            problem = $"printer '{match.Printer}' is not on the allow-list (PrintFarm:Guards:AllowedPrinters)";
            return false;
        }

        problem = null;
        var printer = Printers.Peek(match.Printer);
        if (!ReferenceEquals(printer, match.Printer))
        {
            match = match.WithPrinter(printer);
        }

        return true;
    }

    /// <summary>Keeps <paramref name="printer"/> (when there is room) after a message of it was accepted.</summary>
    public void AdmitPrinter(string printer) => Printers.Fold(printer);

    /// <summary>The kept values, for a checkpoint.</summary>
    public CardinalityGuardState SaveState() => new(Printers.Kept(), Toys.Kept(), Materials.Kept());

    /// <summary>Replaces the kept values with a checkpoint's (up to each cap); a missing set starts empty. Fold counters are kept.</summary>
    public void RestoreState(CardinalityGuardState? state)
    {
        Printers.Restore(state?.Printers);
        Toys.Restore(state?.Toys);
        Materials.Restore(state?.Materials);
    }

    /// <summary>The job with its toy and material folded where their caps are reached.</summary>
    public EndedJob Fold(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var toy = Toys.Fold(job.Toy);
        var material = Materials.Fold(job.Material);
        return ReferenceEquals(toy, job.Toy) && ReferenceEquals(material, job.Material) ? job : job with { Toy = toy, Material = material };
    }

    /// <summary>One capped set of tag values.</summary>
    public sealed class Cap
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private long _folded;
        private string? _firstFolded;

        internal Cap(string kind, int max)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
            Kind = kind;
            Max = max;
        }

        /// <summary><c>printer</c>, <c>toy</c> or <c>material</c>.</summary>
        public string Kind { get; }

        /// <summary>Distinct values kept.</summary>
        public int Max { get; }

        /// <summary>Distinct values kept so far.</summary>
        public int Count => _seen.Count;

        /// <summary>Values folded into <see cref="Other"/> so far (safe to read from any thread).</summary>
        public long Folded => Interlocked.Read(ref _folded);

        /// <summary>The first value that was folded, or <see langword="null"/> while the cap was never reached (for the warning).</summary>
        public string? FirstFolded => Volatile.Read(ref _firstFolded);

        /// <summary>What <see cref="Fold"/> would answer, without keeping <paramref name="value"/> or counting a fold.</summary>
        public string Peek(string value) => value == Other || _seen.Contains(value) || _seen.Count < Max ? value : Other;

        internal string[] Kept() => [.. _seen];

        internal void Restore(IEnumerable<string>? values)
        {
            _seen.Clear();
            foreach (var value in values ?? [])
            {
                if (_seen.Count >= Max)
                {
                    break;
                }

                if (value != Other)
                {
                    _seen.Add(value);
                }
            }
        }

        /// <summary><paramref name="value"/> itself when kept (or keepable), <see cref="Other"/> past the cap.</summary>
        public string Fold(string value)
        {
            if (value == Other || _seen.Contains(value))
            {
                return value;
            }

            if (_seen.Count < Max)
            {
                _seen.Add(value);
                return value;
            }

            Interlocked.Increment(ref _folded);
            Interlocked.CompareExchange(ref _firstFolded, value, null);
            return Other;
        }
    }
}

/// <summary>The values a <see cref="CardinalityGuard"/> keeps, as checkpointed: a replay folds exactly as the first run did.</summary>
/// <param name="Printers">Kept printer ids.</param>
/// <param name="Toys">Kept toy names.</param>
/// <param name="Materials">Kept material names.</param>
public sealed record CardinalityGuardState(string[]? Printers, string[]? Toys, string[]? Materials);
