using System.Globalization;
using System.Text.RegularExpressions;

namespace PrintFarm.Core.Normalization;

/// <summary>The toy name and plate quantity read from a G-code file name.</summary>
/// <param name="Toy">Toy name.</param>
/// <param name="Quantity">Toys on the plate, at least 1.</param>
public readonly record struct ToyInfo(string Toy, int Quantity);

/// <summary>
/// Reads toy name and quantity from a file name: the file's stem (folders and print-file extensions removed),
/// matched against an ordered list of patterns with the named groups <c>toy</c> and (optionally) <c>qty</c>.
/// The first matching pattern wins; with no match the whole stem is the toy and the quantity is 1.
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

    /// <summary>Creates the rules from patterns (tried in order); none given means <see cref="DefaultPattern"/>.</summary>
    /// <exception cref="ArgumentException">A pattern is not a valid regular expression or lacks a <c>toy</c> group.</exception>
    public ToyNameRules(IEnumerable<string>? patterns = null)
    {
        var list = patterns?.Where(p => !string.IsNullOrWhiteSpace(p)).ToList() ?? [];
        if (list.Count == 0)
        {
            _patterns = [DefaultRegex()];
            return;
        }

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
        var stem = Stem(file);
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

        return new ToyInfo(stem, 1);
    }

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
}
