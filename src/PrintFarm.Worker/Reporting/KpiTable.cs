using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace PrintFarm.Worker.Reporting;

/// <summary>One row of the KPI table: the <c>kpi</c> point of one window start and subject (empty for the farm).</summary>
internal sealed record KpiRow(string Window, DateTimeOffset Start, string Subject, LinePoint Point);

/// <summary>
/// The KPI table the demo prints at its end and the <c>kpis</c> command prints from the database: one row per window,
/// the figures of docs/kpis.md with their reference bands; as key=value lines and as CSV for pipes and spreadsheets.
/// </summary>
internal static class KpiTable
{
    /// <summary>The <c>kpi</c> fields of the key=value lines and the CSV, in order (docs/data-model.md).</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "jobs_completed", "jobs_failed", "jobs_cancelled", "toys_completed", "jobs_without_filament",
        "print_time_s", "filament_used_g", "filament_waste_g", "avg_print_time_per_toy_s",
        "material_efficiency", "success_rate", "estimate_ratio", "material_cost", "material_cost_per_toy",
        "printing_s", "utilization", "printers_seen",
    ];

    // Counts read 0 when absent (a window with no ended job of that kind); the other figures read "-".
    private static readonly HashSet<string> Counts = ["jobs_completed", "jobs_failed", "jobs_cancelled", "toys_completed", "jobs_without_filament"];

    /// <summary>
    /// The table: window, start, (subject when <paramref name="subjectHeading"/> is given), toys, print time per toy,
    /// material efficiency, success rate, jobs, and an <paramref name="extra"/> column (the demo's ground truth).
    /// </summary>
    public static Table Build(string title, IEnumerable<KpiRow> rows, string? subjectHeading = null, (string Heading, Func<KpiRow, string> Markup)? extra = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(title)}[/]").AddColumn("window").AddColumn("start (UTC)");
        if (subjectHeading is not null)
        {
            table.AddColumn(Markup.Escape(subjectHeading));
        }

        table.AddColumns("toys", "print time / toy", "material efficiency", "success rate", "jobs ok/failed/cancelled");
        if (extra is { } e)
        {
            table.AddColumn(Markup.Escape(e.Heading));
        }

        foreach (var row in rows)
        {
            var p = row.Point;
            var cells = new List<string> { row.Window, row.Start.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) };
            if (subjectHeading is not null)
            {
                cells.Add(Markup.Escape(row.Subject));
            }

            cells.AddRange(
            [
                (p.Number("toys_completed") ?? 0).ToString("0", CultureInfo.InvariantCulture),
                PrintTime(p.Number("avg_print_time_per_toy_s")),
                Efficiency(p),
                Percent(p.Number("success_rate")),
                string.Create(CultureInfo.InvariantCulture, $"{p.Number("jobs_completed") ?? 0}/{p.Number("jobs_failed") ?? 0}/{p.Number("jobs_cancelled") ?? 0}"),
            ]);
            if (extra is { } x)
            {
                cells.Add(x.Markup(row));
            }

            table.AddRow(cells.ToArray());
        }

        return table;
    }

    /// <summary>
    /// Writes <paramref name="renderable"/> to <paramref name="writer"/>: coloured on a terminal, plain text (box
    /// characters, no escape codes) into a pipe, a file or an e-mail, wide enough that no row wraps.
    /// </summary>
    public static void Write(TextWriter writer, IRenderable renderable, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 240;
            console.Profile.Capabilities.Unicode = true;
        }

        console.Write(renderable);
    }

    /// <summary>One row as <c>window=… start=… jobs_completed=… …</c> (doubles round-trip, absent figures <c>-</c>).</summary>
    public static string KeyValues(KpiRow row, IEnumerable<string>? fields = null)
    {
        ArgumentNullException.ThrowIfNull(row);
        var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"window={row.Window} start={row.Start:yyyy-MM-ddTHH:mm:ssZ}"));
        if (row.Subject.Length > 0)
        {
            line.Append(' ').Append(row.Point.Tag("scope")).Append('=').Append(row.Subject);
        }

        foreach (var field in fields ?? Fields)
        {
            line.Append(' ').Append(field).Append('=').Append(Value(row.Point, field));
        }

        return line.ToString();
    }

    /// <summary>
    /// The rows as CSV (RFC 4180): <c>window,start,scope,subject</c> and every field of <see cref="Fields"/>; start in
    /// ISO 8601 UTC, numbers culture-invariant and round-trip, an absent figure an empty cell.
    /// </summary>
    public static void WriteCsv(TextWriter writer, IEnumerable<KpiRow> rows)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(rows);
        writer.WriteLine("window,start,scope,subject," + string.Join(',', Fields));
        foreach (var row in rows)
        {
            var cells = new List<string>
            {
                Csv(row.Window),
                row.Start.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                Csv(row.Point.Tag("scope")),
                Csv(row.Subject),
            };
            cells.AddRange(Fields.Select(f => row.Point.Number(f) is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : Counts.Contains(f) ? "0" : string.Empty));
            writer.WriteLine(string.Join(',', cells));
        }
    }

    /// <summary>Print time per toy with its band, as markup.</summary>
    public static string PrintTime(double? seconds)
    {
        if (seconds is not { } s)
        {
            return "-";
        }

        var (colour, word) = Bands.PrintTimePerToy(s);
        return $"[{colour}]{Bands.Duration(s)} {word}[/]";
    }

    /// <summary>Material efficiency with its band, as markup.</summary>
    public static string Efficiency(double? ratio)
    {
        if (ratio is not { } r)
        {
            return "-";
        }

        var (colour, word) = Bands.Efficiency(r);
        return string.Create(CultureInfo.InvariantCulture, $"[{colour}]{r * 100:0.0} % {word}[/]");
    }

    /// <summary>
    /// The material efficiency of a <c>kpi</c> point with its band, and what it leaves out: jobs whose filament is
    /// unknown count in the job columns but not in the efficiency, so a cell beside "1/1/0" says so.
    /// </summary>
    public static string Efficiency(LinePoint? point)
    {
        var cell = Efficiency(point?.Number("material_efficiency"));
        return LeftOut(point) is { } note ? $"{cell} [grey]({Markup.Escape(note)})[/]" : cell;
    }

    /// <summary>"1 job without filament data left out" when the point's efficiency leaves jobs out, else null.</summary>
    public static string? LeftOut(LinePoint? point) => point?.Number("jobs_without_filament") is { } n and > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{n:0} job{(n == 1 ? string.Empty : "s")} without filament data left out")
        : null;

    private static string Percent(double? ratio) => ratio is { } r ? (r * 100).ToString("0", CultureInfo.InvariantCulture) + " %" : "-";

    private static string Value(LinePoint p, string field) =>
        p.Number(field) is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : Counts.Contains(field) ? "0" : "-";

    private static string Csv(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
}
