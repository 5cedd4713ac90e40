using System.Text.RegularExpressions;

namespace PrintFarm.Core.Orders;

/// <summary>
/// The file-name convention that links a job to an order: a file whose name starts with <c>order-{id}_</c>
/// (<c>order-1234_dragon_x4.gcode</c>) prints for order <c>1234</c>; the toy name is read from the rest
/// (<c>dragon_x4</c>). An id is letters, digits, <c>-</c> and <c>.</c>; the prefix is matched without regard to case.
/// </summary>
public static partial class OrderLink
{
    /// <summary>The order id a file name names, or null when it does not follow the convention.</summary>
    public static string? FromFile(string? file)
    {
        if (string.IsNullOrEmpty(file))
        {
            return null;
        }

        var name = LastSegment(file);
        var match = Prefix().Match(name);
        return match.Success ? match.Groups["id"].Value : null;
    }

    /// <summary><paramref name="stem"/> without a leading <c>order-{id}_</c>, so the toy name does not carry the order.</summary>
    public static string StripPrefix(string stem)
    {
        ArgumentNullException.ThrowIfNull(stem);
        var match = Prefix().Match(stem);
        return match.Success && match.Length < stem.Length ? stem[match.Length..] : stem;
    }

    private static string LastSegment(string file)
    {
        var slash = file.AsSpan().LastIndexOfAny('/', '\\');
        return slash < 0 ? file : file[(slash + 1)..];
    }

    [GeneratedRegex(@"^order-(?<id>[A-Za-z0-9.\-]{1,64})_", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Prefix();
}
