using System.Globalization;

namespace PrintFarm.Simulator;

/// <summary>Command-line values: durations like <c>90m</c>, <c>8h</c>, <c>2d</c>, and scenario names.</summary>
public static class SimDuration
{
    /// <summary>Parses <c>45s</c>, <c>90m</c>, <c>8h</c>, <c>2d</c> or a TimeSpan; <c>0</c> means no end (<see langword="null"/>).</summary>
    /// <exception cref="FormatException">Not a duration.</exception>
    public static TimeSpan? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "0")
        {
            return null;
        }

        if (t.Length > 1 && double.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (t[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }

        return TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
            ? span
            : throw new FormatException($"'{text}' is not a duration: use 45s, 90m, 8h, 2d or 0 for no end");
    }

    /// <summary>Parses <c>steady</c> or <c>efficiency-drop</c>.</summary>
    /// <exception cref="FormatException">Not a scenario.</exception>
    public static Scenario ParseScenario(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "steady" or "none" => Scenario.Steady,
        "efficiency-drop" => Scenario.EfficiencyDrop,
        _ => throw new FormatException($"'{text}' is not a scenario: use steady or efficiency-drop"),
    };
}
