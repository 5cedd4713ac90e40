using System.Globalization;
using System.Text.RegularExpressions;

namespace PrintFarm.Core.Normalization;

/// <summary>The toy name and plate quantity read from a G-code file name.</summary>
/// <param name="Toy">Toy name.</param>
/// <param name="Quantity">Toys on the plate, at least 1.</param>
public readonly record struct ToyInfo(string Toy, int Quantity);

/// <summary>
/// Reads toy name and quantity from a file name: the file's stem (folders and print-file extensions removed),
/// matched against an ordered list of configured patterns with the named groups <c>toy</c> and (optionally)
/// <c>qty</c>. The first matching pattern wins; a stem none matches goes through the built-in rules for the common
/// slicers' default name templates and the quantity marker (<see cref="SlicerDefaults"/>).
/// </summary>
public sealed partial class ToyNameRules
{
    /// <summary>
    /// The default rule: a trailing quantity marker <c>_x4</c>, <c>-x4</c> or <c>_4x</c> means 4 toys and is removed
    /// from the name (<c>dragon_x4.gcode</c> → <c>dragon</c>, 4).
    /// </summary>
    public const string DefaultPattern = @"^(?<toy>.+?)(?:[_-][xX](?<qty>\d{1,4})|_(?<qty>\d{1,4})[xX])$";

    // Longest first, so "a.gcode.3mf" loses both parts.
    private static readonly string[] PrintFileExtensions = [".gcode.3mf", ".3mf", ".bgcode", ".gcode", ".gco", ".gc", ".g"];

    private readonly Regex[] _patterns;

    /// <summary>Creates the rules from patterns (tried in order, before the built-in rules).</summary>
    /// <exception cref="ArgumentException">A pattern is not a valid regular expression or lacks a <c>toy</c> group.</exception>
    public ToyNameRules(IEnumerable<string>? patterns = null)
    {
        var list = patterns?.Where(p => !string.IsNullOrWhiteSpace(p)).ToList() ?? [];
        // Configured patterns are tried first; the built-in slicer rules serve every name none of them matches.
        _patterns = list.Select(Compile).ToArray();
    }

    /// <summary>The default rules.</summary>
    public static ToyNameRules Default { get; } = new();

    /// <summary>Checks that <paramref name="pattern"/> can be used as a rule; returns the reason when it cannot.</summary>
    public static string? Validate(string pattern)
    {
        try
        {
            _ = Compile(pattern);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>Reads toy and quantity from <paramref name="file"/> (a name or a path).</summary>
    public ToyInfo Parse(string? file)
    {
        // A job linked to an order by its file name (order-1234_dragon_x4) is the toy of the rest of the name.
        var stem = Orders.OrderLink.StripPrefix(Stem(file));
        if (stem.Length == 0)
        {
            return new ToyInfo("unknown", 1);
        }

        foreach (var regex in _patterns)
        {
            Match match;
            try
            {
                match = regex.Match(stem);
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological configured pattern must not stop ingestion: treat it as no match.
                continue;
            }

            if (!match.Success)
            {
                continue;
            }

            var toy = match.Groups["toy"].Value.Trim();
            var quantity = 1;
            var qty = match.Groups["qty"];
            if (qty.Success && int.TryParse(qty.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var q) && q >= 1)
            {
                quantity = q;
            }

            return new ToyInfo(toy.Length == 0 ? stem : toy, quantity);
        }

        return SlicerDefaults(stem);
    }

    /// <summary>
    /// The built-in rules, applied when no configured pattern matches: the parts the common slicers' default output
    /// name templates add around the model's name are removed, then the quantity marker is read (docs/data-model.md,
    /// "Normalization rules"). Cura's machine prefix (<c>CE3_dragon</c>, "add machine prefix to job name"); PrusaSlicer's and
    /// SuperSlicer's <c>_{nozzle}n_{layer height}mm_{filament types}_{printer model}_{print time}</c>
    /// (<c>dragon_0.4n_0.2mm_PETG_MK4_1h23m</c>); OrcaSlicer's <c>_{filament type}_{print time}</c>
    /// (<c>dragon_PLA_2h5m</c>); a trailing material word (<c>dragon_x4_PETG</c>); the quantity as <c>_x4</c>,
    /// <c>-x4</c>, <c>_4x</c> at the end or <c>4x_</c> at the start. Bambu Studio names the job after the project
    /// (<c>dragon.gcode.3mf</c>), which needs only the extension removed.
    /// </summary>
    private static ToyInfo SlicerDefaults(string stem)
    {
        var name = CuraMachinePrefix().Replace(stem, string.Empty);
        name = PrusaSlicerSuffix().Replace(name, string.Empty);
        name = OrcaSlicerSuffix().Replace(name, string.Empty);
        var quantity = 1;
        for (var pass = 0; pass < 2; pass++)
        {
            name = MaterialSuffix().Replace(name, string.Empty);
            if (quantity == 1 && DefaultRegex().Match(name) is { Success: true } suffix && Quantity(suffix) is { } q)
            {
                name = suffix.Groups["toy"].Value;
                quantity = q;
            }
            else if (quantity == 1 && QuantityPrefix().Match(name) is { Success: true } prefix && Quantity(prefix) is { } p)
            {
                name = prefix.Groups["toy"].Value;
                quantity = p;
            }
        }

        name = name.Trim();
        return new ToyInfo(name.Length == 0 ? stem : name, quantity);
    }

    private static int? Quantity(Match match) =>
        int.TryParse(match.Groups["qty"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var q) && q >= 1 ? q : null;

    /// <summary>The last path segment without a print-file extension.</summary>
    public static string Stem(string? file)
    {
        if (string.IsNullOrWhiteSpace(file))
        {
            return string.Empty;
        }

        var name = file.AsSpan().Trim();
        var slash = name.LastIndexOfAny('/', '\\');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        foreach (var ext in PrintFileExtensions)
        {
            if (name.Length > ext.Length && name.EndsWith(ext, StringComparison.OrdinalIgnoreCase))
            {
                name = name[..^ext.Length];
                break;
            }
        }

        return name.ToString();
    }

    private static Regex Compile(string pattern)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, TimeSpan.FromMilliseconds(250));
        if (Array.IndexOf(regex.GetGroupNames(), "toy") < 0)
        {
            throw new ArgumentException($"pattern '{pattern}' has no named group 'toy'", nameof(pattern));
        }

        return regex;
    }

    [GeneratedRegex(DefaultPattern, RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 250)]
    private static partial Regex DefaultRegex();

    // Cura's job name prefix: the abbreviation of the machine's name (Creality Ender-3 → CE3, Ultimaker S5 → UMS5).
    // Only the abbreviations of common machines: a free pattern would eat toys such as R2D2_figure.
    [GeneratedRegex(@"^(?:CE3|CE3E3V2|CE3PRO|CE3S1|CE3V2|CE3V3|CE5|CE5PRO|CR10|CR10S|CR10SPRO|CR6SE|CRX|UM2|UM2C|UM3|UM3E|UMS3|UMS5|UMS7|UMS8|UMF|AC|ACM|PI3MK3|PI3MK3S|PI3MK4|PIMK4|I3MK3S|AKLP|ABK|ELGM|VORON|V2)_(?=.)", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 250)]
    private static partial Regex CuraMachinePrefix();

    // PrusaSlicer/SuperSlicer: [_{nozzle}n]_{layer height}mm_{filament types}_{printer model}_{print time}.
    [GeneratedRegex(@"(?:_\d+(?:\.\d+)?n)?_\d+(?:\.\d+)?mm_[A-Za-z0-9+;,-]+_[A-Za-z0-9+-]+_(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?<=\d[dhms])$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 250)]
    private static partial Regex PrusaSlicerSuffix();

    // OrcaSlicer: _{filament type}_{print time}.
    [GeneratedRegex(@"_(?:PLA|PETG|ABS|ASA|TPU|PA|PC|PVA|HIPS|PET)(?:[+-][A-Za-z0-9]+)?_(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?<=\d[dhms])$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 250)]
    private static partial Regex OrcaSlicerSuffix();

    // A material word at the end: dragon_x4_PETG, dragon-PLA.
    [GeneratedRegex(@"(?<=.)[_-](?:PLA|PETG|ABS|ASA|TPU|PA|PC|PVA|HIPS|PET)(?:[+-][A-Za-z0-9]+)?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 250)]
    private static partial Regex MaterialSuffix();

    // The quantity in front: 4x_dragon, x4-dragon.
    [GeneratedRegex(@"^(?:(?<qty>\d{1,4})[xX]|[xX](?<qty>\d{1,4}))[_-](?<toy>.+)$", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 250)]
    private static partial Regex QuantityPrefix();
}
