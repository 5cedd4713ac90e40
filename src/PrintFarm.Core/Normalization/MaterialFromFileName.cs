namespace PrintFarm.Core.Normalization;

/// <summary>
/// Reads a material token from a G-code file name, as slicers write it by default (PrusaSlicer's
/// <c>{input_filename_base}_{layer_height}mm_{filament_type[0]}_{printer_model}_{print_time}</c> gives
/// <c>calicat_0.3mm_PLA_MK3S_33m.gcode</c>). Used for every source when the event itself names no material.
/// </summary>
internal static class MaterialFromFileName
{
    /// <summary>The tokens recognised, compared case-insensitively as whole words of the file stem.</summary>
    public static IReadOnlyList<string> Tokens { get; } = ["PLA", "PETG", "ABS", "ASA", "TPU", "PA", "PC"];

    /// <summary>
    /// The first material token in <paramref name="file"/>'s stem, upper case, or <see langword="null"/>. Words are
    /// separated by anything that is not a letter or digit, so <c>dragon_PETG_x4</c> is PETG while <c>panda</c> and
    /// <c>PLAtform</c> are nothing.
    /// </summary>
    public static string? Find(string? file)
    {
        var stem = ToyNameRules.Stem(file).AsSpan();
        var start = 0;
        for (var i = 0; i <= stem.Length; i++)
        {
            if (i < stem.Length && char.IsAsciiLetterOrDigit(stem[i]))
            {
                continue;
            }

            var word = stem[start..i];
            start = i + 1;
            if (word.Length is < 2 or > 4)
            {
                continue;
            }

            foreach (var token in Tokens)
            {
                if (word.Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return token;
                }
            }
        }

        return null;
    }
}
