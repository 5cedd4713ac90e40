using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Reporting;

namespace PrintFarm.Demo.Board;

/// <summary>The farm as the worker reports it: the latest <c>kpi</c>, <c>printer</c> and <c>job</c> points it wrote.</summary>
internal sealed class BoardState
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Window, long Start, string Scope, string Subject), LinePoint> _kpis = [];

    // Every kpi point by its series (measurement and all tags) and time: InfluxDB's identity of a point.
    private readonly Dictionary<(string Series, long Time), LinePoint> _kpiSeries = [];
    private readonly Dictionary<string, LinePoint> _printers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinePoint> _lastJobs = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Rule, string Scope, string Subject), LinePoint> _alerts = [];
    private readonly Dictionary<(string Window, long Start, string Reason), LinePoint> _reasons = [];

    // Orders: each order point is the whole order as it stands; each order_kpi point the whole window.
    private readonly Dictionary<string, LinePoint> _orders = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Window, long Start), LinePoint> _orderKpis = [];

    public long Lines { get; private set; }

    public void Observe(IReadOnlyList<string> lines)
    {
        lock (_gate)
        {
            foreach (var line in lines)
            {
                if (LineProtocolReader.Parse(line) is not { } p)
                {
                    continue;
                }

                Lines++;
                switch (p.Measurement)
                {
                    case "kpi":
                        var subject = p.Tag("scope") switch { "printer" => p.Tag("printer"), "toy" => p.Tag("toy"), "material" => p.Tag("material"), _ => string.Empty };
                        p = MergeKpi(p);
                        _kpis[(p.Tag("window"), p.TimestampMs, p.Tag("scope"), subject)] = p;
                        break;
                    case "printer":
                        var printer = p.Tag("printer");
                        if (_printers.TryGetValue(printer, out var before))
                        {
                            // Points carry only what changed: keep the last known value of each field.
                            foreach (var (k, v) in before.Fields)
                            {
                                p.Fields.TryAdd(k, v);
                            }
                        }

                        _printers[printer] = p;
                        break;
                    case "job":
                        _lastJobs[p.Tag("printer")] = p;
                        break;
                    case "order":
                        _orders[p.Tag("order")] = p;
                        break;
                    case "order_kpi":
                        _orderKpis[(p.Tag("window"), p.TimestampMs)] = p;
                        break;
                    case "kpi_reason":
                        _reasons[(p.Tag("window"), p.TimestampMs, p.Tag("reason"))] = p;
                        break;
                    case "alert":
                        var scope = p.Tag("scope");
                        var about = scope switch { "printer" => p.Tag("printer"), "toy" => p.Tag("toy"), "material" => p.Tag("material"), _ => string.Empty };
                        _alerts[(p.Tag("rule"), scope, about)] = p;
                        break;
                }
            }
        }
    }

    // As InfluxDB does: a point on the series and time of an earlier one adds its fields to it, replacing only the
    // fields it carries (the OEE fields come as a second point on the kpi series of the same window). A new record,
    // so a reader holding the earlier one never sees it change.
    private LinePoint MergeKpi(LinePoint p)
    {
        var key = (SeriesKey(p), p.TimestampMs);
        if (_kpiSeries.TryGetValue(key, out var before))
        {
            var fields = new Dictionary<string, object>(before.Fields, StringComparer.Ordinal);
            foreach (var (k, v) in p.Fields)
            {
                fields[k] = v;
            }

            p = p with { Fields = fields };
        }

        _kpiSeries[key] = p;
        return p;
    }

    // Measurement and tags in key order, joined by control characters that line protocol never carries unescaped.
    private static string SeriesKey(LinePoint p) =>
        p.Measurement + string.Concat(p.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"\u001e{t.Key}\u001f{t.Value}"));

    /// <summary>The latest transition of each alert (rule, scope, subject), newest first: what is firing and what resolved.</summary>
    public IReadOnlyList<LinePoint> Alerts()
    {
        lock (_gate)
        {
            return _alerts.Values.OrderByDescending(a => a.TimestampMs).ToList();
        }
    }

    /// <summary>The orders completed in a window (its <c>order_kpi</c> point), if any were.</summary>
    public LinePoint? OrderKpi(string window, DateTimeOffset start)
    {
        lock (_gate)
        {
            return _orderKpis.TryGetValue((window, start.ToUnixTimeMilliseconds()), out var p) ? p : null;
        }
    }

    /// <summary>Every <c>order_kpi</c> window of a size written so far, in order.</summary>
    public IReadOnlyList<(DateTimeOffset Start, LinePoint Point)> OrderKpis(string window)
    {
        lock (_gate)
        {
            return _orderKpis.Where(kv => kv.Key.Window == window).OrderBy(kv => kv.Key.Start)
                .Select(kv => (DateTimeOffset.FromUnixTimeMilliseconds(kv.Key.Start), kv.Value)).ToList();
        }
    }

    /// <summary>Every order as the worker last wrote it, by placed time.</summary>
    public IReadOnlyList<LinePoint> Orders()
    {
        lock (_gate)
        {
            return _orders.Values.OrderBy(o => o.TimestampMs).ThenBy(o => o.Tag("order"), StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The latest farm (or other scope) point of a window, if written.</summary>
    public LinePoint? Kpi(string window, DateTimeOffset start, string scope = "farm", string subject = "")
    {
        lock (_gate)
        {
            return _kpis.TryGetValue((window, start.ToUnixTimeMilliseconds(), scope, subject), out var p) ? p : null;
        }
    }

    /// <summary>Every window start of a size and scope written so far, in order.</summary>
    public IReadOnlyList<(DateTimeOffset Start, string Subject, LinePoint Point)> Kpis(string window, string scope)
    {
        lock (_gate)
        {
            return _kpis.Where(kv => kv.Key.Window == window && kv.Key.Scope == scope)
                .Select(kv => (DateTimeOffset.FromUnixTimeMilliseconds(kv.Key.Start), kv.Key.Subject, kv.Value))
                .OrderBy(x => x.Item1).ThenBy(x => x.Subject, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The failure reason that wasted the most filament in a window (its <c>kpi_reason</c> point), if any did.</summary>
    public LinePoint? TopReason(string window, DateTimeOffset start)
    {
        lock (_gate)
        {
            var at = start.ToUnixTimeMilliseconds();
            return _reasons.Where(kv => kv.Key.Window == window && kv.Key.Start == at && kv.Value.Number("jobs") > 0)
                .Select(kv => kv.Value)
                .OrderByDescending(p => p.Number("filament_waste_g") ?? 0).ThenByDescending(p => p.Number("jobs") ?? 0)
                .FirstOrDefault();
        }
    }

    public LinePoint? Printer(string printer)
    {
        lock (_gate)
        {
            return _printers.TryGetValue(printer, out var p) ? p : null;
        }
    }

    public LinePoint? LastJob(string printer)
    {
        lock (_gate)
        {
            return _lastJobs.TryGetValue(printer, out var p) ? p : null;
        }
    }
}

/// <summary>Passes every batch to the real sink and shows it on the board once written.</summary>
internal sealed class LineTap(ILineSink inner, BoardState board) : ILineSink
{
    public async Task<WriteResult> WriteAsync(LineBuffer lines, CancellationToken cancellationToken)
    {
        var result = await inner.WriteAsync(lines, cancellationToken).ConfigureAwait(false);
        board.Observe(lines.ToLines());
        return result;
    }
}
