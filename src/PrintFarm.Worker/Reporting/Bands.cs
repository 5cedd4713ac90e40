namespace PrintFarm.Worker.Reporting;

/// <summary>The industry reference bands of docs/kpis.md, as colours and words.</summary>
internal static class Bands
{
    /// <summary>Print time per toy: under 2 h excellent, 2–4 h typical, above that slow.</summary>
    public static (string Colour, string Word) PrintTimePerToy(double seconds) => seconds switch
    {
        < 2 * 3600 => ("green", "excellent"),
        <= 4 * 3600 => ("yellow", "typical"),
        _ => ("red", "slow"),
    };

    /// <summary>Material efficiency: above 90 % exceptional, 70–90 % good, 60–70 % typical, below poor.</summary>
    public static (string Colour, string Word) Efficiency(double ratio) => ratio switch
    {
        > 0.9 => ("green", "exceptional"),
        >= 0.7 => ("chartreuse3", "good"),
        >= 0.6 => ("yellow", "typical"),
        _ => ("red", "poor"),
    };

    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
    }
}
