namespace PrintFarm.Core.Normalization;

/// <summary>
/// Makes a name that came from a printer (toy, material, file stem) safe to be an InfluxDB tag value, so that one odd
/// file name can never make the line-protocol encoder refuse a job after it has been counted.
/// </summary>
public static class TagValue
{
    /// <summary>
    /// Trims, replaces line breaks and other control characters with spaces, and drops trailing backslashes (which
    /// would escape the tag separator). Returns <paramref name="fallback"/> when nothing is left.
    /// </summary>
    public static string Clean(string? value, string fallback = "unknown")
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        var span = value.AsSpan();
        var needsWork = span.Trim().Length != span.Length || span[^1] == '\\';
        foreach (var c in span)
        {
            if (char.IsControl(c))
            {
                needsWork = true;
                break;
            }
        }

        if (!needsWork)
        {
            return value;
        }

        var chars = value.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsControl(chars[i]))
            {
                chars[i] = ' ';
            }
        }

        var cleaned = new string(chars).Trim().TrimEnd('\\').TrimEnd();
        return cleaned.Length == 0 ? fallback : cleaned;
    }

    /// <summary>True when <paramref name="value"/> can be a tag value as it is (as a printer id from a topic must).</summary>
    public static bool IsValid(string? value) => !string.IsNullOrEmpty(value) && Clean(value, string.Empty) == value;
}
