using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Reporting;

namespace PrintFarm.Demo.Board;

/// <summary>The farm as the worker reports it: the latest <c>kpi</c>, <c>printer</c> and <c>job</c> points it wrote.</summary>
internal sealed class BoardState
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Window, long Start, string Scope, string Subject), LinePoint> _kpis = [];
    private readonly Dictionary<string, LinePoint> _printers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinePoint> _lastJobs = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Rule, string Scope, string Subject), LinePoint> _alerts = [];

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
                        var key = (p.Tag("window"), p.TimestampMs, p.Tag("scope"), subject);
                        if (_kpis.TryGetValue(key, out var earlier))
                        {
                            // Several lines make one kpi point (OEE, landed cost): keep the fields this line does not carry.
                            foreach (var (k, v) in earlier.Fields)
                            {
                                p.Fields.TryAdd(k, v);
                            }
                        }

                        _kpis[key] = p;
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
                    case "alert":
                        var scope = p.Tag("scope");
                        var about = scope switch { "printer" => p.Tag("printer"), "toy" => p.Tag("toy"), "material" => p.Tag("material"), _ => string.Empty };
                        _alerts[(p.Tag("rule"), scope, about)] = p;
                        break;
                }
            }
        }
    }

    /// <summary>The latest transition of each alert (rule, scope, subject), newest first: what is firing and what resolved.</summary>
    public IReadOnlyList<LinePoint> Alerts()
    {
        lock (_gate)
        {
            return _alerts.Values.OrderByDescending(a => a.TimestampMs).ToList();
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
