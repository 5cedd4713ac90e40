using System.Globalization;

namespace PrintFarm.Core.Kpis;

/// <summary>A tumbling event-time window size, such as <c>1h</c> or <c>1d</c>, aligned to UTC.</summary>
public sealed record WindowSpec
{
    private WindowSpec(string name, TimeSpan size)
    {
        Name = name;
        Size = size;
    }

    /// <summary>The <c>window</c> tag value: a whole number and a unit, <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>.</summary>
    public string Name { get; }

    /// <summary>Window length.</summary>
    public TimeSpan Size { get; }

    /// <summary>What <see cref="TryParse"/> accepts, for error messages.</summary>
    public const string Grammar = "a whole number followed by s, m, h or d (for example 15m, 1h, 1d), dividing a day evenly or a whole number of days";

    /// <summary>Parses <c>30s</c>, <c>15m</c>, <c>1h</c>, <c>1d</c>, … Sizes must tile a day (so windows align to UTC midnight) or be whole days.</summary>
    public static bool TryParse(string? text, out WindowSpec? spec)
    {
        spec = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var t = text.Trim().ToLowerInvariant();
        if (t.Length < 2 || !long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > 3650)
        {
            return false;
        }

        TimeSpan size;
        switch (t[^1])
        {
            case 's': size = TimeSpan.FromSeconds(n); break;
            case 'm': size = TimeSpan.FromMinutes(n); break;
            case 'h': size = TimeSpan.FromHours(n); break;
            case 'd': size = TimeSpan.FromDays(n); break;
            default: return false;
        }

        if (size < TimeSpan.FromDays(1) ? TimeSpan.FromDays(1).Ticks % size.Ticks != 0 : size.Ticks % TimeSpan.FromDays(1).Ticks != 0)
        {
            return false;
        }

        spec = new WindowSpec(string.Create(CultureInfo.InvariantCulture, $"{n}{t[^1]}"), size);
        return true;
    }

    /// <summary>Parses or throws.</summary>
    /// <exception cref="FormatException">Not a valid window size.</exception>
    public static WindowSpec Parse(string text) =>
        TryParse(text, out var spec) ? spec! : throw new FormatException($"'{text}' is not a window size: use {Grammar}");

    /// <summary>Start of the window that contains <paramref name="time"/>.</summary>
    public DateTimeOffset StartOf(DateTimeOffset time)
    {
        var ticks = time.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % Size.Ticks), TimeSpan.Zero);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
