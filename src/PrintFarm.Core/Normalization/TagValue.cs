namespace PrintFarm.Core.Normalization;

/// <summary>
/// Makes a name that came from a printer (printer id, toy, material, file) safe to store, so that an odd name can
/// never cost a job: the name is sanitized, never the message rejected. The rules are those of
/// <c>docs/data-model.md</c> ("Names").
/// </summary>
internal static class TagValue
{
    /// <summary>Longest printer id, toy or material name kept, in UTF-16 code units; longer ones are cut.</summary>
    public const int MaxNameLength = 128;

    /// <summary>Longest file name (or job id) kept, in UTF-16 code units; longer ones are cut.</summary>
    public const int MaxFileLength = 512;

    /// <summary>
    /// Replaces every control character (line breaks, tabs, NUL, …) with a space, trims surrounding white space, cuts
    /// to <paramref name="maxLength"/> (never inside a surrogate pair) and drops trailing backslashes (which would
    /// escape the tag separator). Returns <paramref name="fallback"/> when nothing is left. Commas, spaces, <c>=</c>,
    /// quotes, non-Latin letters and emoji are kept as they are: the line-protocol encoder escapes them.
    /// </summary>
    public static string Clean(string? value, string fallback = "unknown", int maxLength = MaxNameLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        var span = value.AsSpan();
        var needsWork = span.Length > maxLength || span.Trim().Length != span.Length || span[^1] == '\\';
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

        var cleaned = new string(chars).Trim();
        if (cleaned.Length > maxLength)
        {
            var cut = char.IsHighSurrogate(cleaned[maxLength - 1]) ? maxLength - 1 : maxLength;
            cleaned = cleaned[..cut].TrimEnd();
        }

        cleaned = cleaned.TrimEnd('\\').TrimEnd();
        return cleaned.Length == 0 ? fallback : cleaned;
    }

    /// <summary><see cref="Clean"/> for a file name or job id: the longer cap, and null when nothing is left.</summary>
    public static string? CleanFile(string? value)
    {
        var cleaned = Clean(value, string.Empty, MaxFileLength);
        return cleaned.Length == 0 ? null : cleaned;
    }

    /// <summary>True when <paramref name="value"/> can be a tag value as it is.</summary>
    public static bool IsValid(string? value) => !string.IsNullOrEmpty(value) && Clean(value, string.Empty) == value;
}
