using System.Globalization;

namespace PrintFarm.Simulator.Formats;

/// <summary>The four payload formats the worker reads.</summary>
public enum PrinterFormat
{
    /// <summary>OctoPrint with the MQTT plugin.</summary>
    OctoPrint,

    /// <summary>Klipper via Moonraker's <c>[mqtt]</c>.</summary>
    Moonraker,

    /// <summary>Bambu Lab <c>push_status</c> reports.</summary>
    Bambu,

    /// <summary>The project's native schema.</summary>
    Native,
}

/// <summary>Shares of the formats among the printers, e.g. <c>octoprint=2,moonraker=1,bambu=1,native=1</c>, <c>mixed</c> or one name.</summary>
public sealed class FormatMix
{
    private readonly double[] _shares;

    private FormatMix(double[] shares) => _shares = shares;

    /// <summary>Equal shares of all four.</summary>
    public static FormatMix Equal { get; } = new([1, 1, 1, 1]);

    /// <summary>Only one format.</summary>
    public static FormatMix Only(PrinterFormat format)
    {
        var shares = new double[4];
        shares[(int)format] = 1;
        return new FormatMix(shares);
    }

    /// <summary>Parses <c>mixed</c>, a format name, or <c>name=share,…</c>.</summary>
    /// <exception cref="FormatException">Not a mix.</exception>
    public static FormatMix Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Trim().Equals("mixed", StringComparison.OrdinalIgnoreCase))
        {
            return Equal;
        }

        var shares = new double[4];
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (!Enum.TryParse<PrinterFormat>(pieces[0], ignoreCase: true, out var format) || !Enum.IsDefined(format))
            {
                throw new FormatException($"'{pieces[0]}' is not a format: use octoprint, moonraker, bambu or native");
            }

            var share = 1.0;
            if (pieces.Length == 2 && (!double.TryParse(pieces[1], NumberStyles.Float, CultureInfo.InvariantCulture, out share) || share < 0))
            {
                throw new FormatException($"'{pieces[1]}' is not a share (a number ≥ 0)");
            }

            shares[(int)format] += share;
        }

        if (shares.Sum() <= 0)
        {
            throw new FormatException($"'{text}' gives no format a share");
        }

        return new FormatMix(shares);
    }

    /// <summary>
    /// The format of each of <paramref name="count"/> printers: each format's count follows its share (largest
    /// remainder), dealt out round-robin so a mixed board interleaves them.
    /// </summary>
    public PrinterFormat[] Assign(int count)
    {
        var left = Quotas(count);
        var formats = new PrinterFormat[count];
        var f = 0;
        for (var i = 0; i < count; f = (f + 1) % 4)
        {
            if (left[f] > 0)
            {
                left[f]--;
                formats[i++] = (PrinterFormat)f;
            }
        }

        return formats;
    }

    /// <summary>How many printers of each format among <paramref name="count"/>.</summary>
    public int[] Quotas(int count)
    {
        var total = _shares.Sum();
        var exact = _shares.Select(s => s / total * count).ToArray();
        var quotas = exact.Select(e => (int)Math.Floor(e)).ToArray();
        var order = Enumerable.Range(0, 4).OrderByDescending(i => exact[i] - quotas[i]).ThenBy(i => i).ToArray();
        for (var k = 0; quotas.Sum() < count; k++)
        {
            quotas[order[k % 4]]++;
        }

        return quotas;
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(",", Enumerable.Range(0, 4).Where(i => _shares[i] > 0)
        .Select(i => string.Create(CultureInfo.InvariantCulture, $"{((PrinterFormat)i).ToString().ToLowerInvariant()}={_shares[i]}")));
}
