using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Kpis;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Reporting;

/// <summary>A query the database refused or could not answer: the message names the server and what it said.</summary>
internal sealed class KpiQueryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads <c>kpi</c> points back with InfluxQL (<c>GET /query?db=&amp;epoch=ms</c>), the one query API that InfluxDB 1.x,
/// 2.x (through the DBRP mapping of its bucket, <c>./build.sh setup</c>) and 3.x all answer. The database is
/// <c>PrintFarm:Influx:Database</c> with the v1 API and the bucket's name with v2; credentials, TLS and timeout are the
/// writer's.
/// </summary>
internal sealed class KpiQueryClient
{
    // Tags of the kpi measurement (docs/data-model.md); every other column is a field.
    private static readonly HashSet<string> TagNames = ["farm", "scope", "window", "printer", "toy", "material", "partition"];

    private readonly HttpClient _http;
    private readonly InfluxOptions _options;
    private readonly string _farm;

    public KpiQueryClient(HttpClient http, IOptions<PrintFarmOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _http = http;
        _options = options.Value.Influx;
        _farm = options.Value.Farm;
        _http.Timeout = _options.Timeout;
        if (_options.IsV1)
        {
            if (!string.IsNullOrEmpty(_options.Username))
            {
                var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_options.Username}:{_options.Password}"));
                _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", credentials);
            }
        }
        else if (!string.IsNullOrEmpty(_options.Token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", _options.Token);
        }
    }

    /// <summary>The InfluxQL database name: the v1 database, or the v2 bucket (its DBRP mapping's database).</summary>
    public string Database => (_options.IsV1 ? _options.Database : _options.Bucket) ?? string.Empty;

    /// <summary>The server, without credentials, for messages.</summary>
    public string Server => Uri.TryCreate(_options.Url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority).Replace(uri.UserInfo + "@", string.Empty, StringComparison.Ordinal) : _options.Url;

    /// <summary>
    /// The InfluxQL statement: the farm's <c>kpi</c> points of one scope and the given windows whose start lies in
    /// [<paramref name="from"/>, <paramref name="until"/>].
    /// </summary>
    public string Statement(string scope, IReadOnlyCollection<string> windows, DateTimeOffset from, DateTimeOffset until)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var windowFilter = string.Join(" OR ", windows.Select(w => $"\"window\" = {Literal(w)}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"SELECT * FROM \"kpi\" WHERE \"farm\" = {Literal(_farm)} AND \"scope\" = {Literal(scope)} AND ({windowFilter}) AND time >= {Literal(Rfc3339(from))} AND time <= {Literal(Rfc3339(until))}");
    }

    /// <summary>
    /// The farm's <c>kpi</c> rows of <paramref name="scope"/> in <paramref name="windows"/> (their order) whose windows
    /// overlap [<paramref name="from"/>, <paramref name="until"/>], oldest first.
    /// </summary>
    /// <exception cref="KpiQueryException">The server is unreachable, refused the query, or answered an error.</exception>
    public async Task<IReadOnlyList<KpiRow>> QueryAsync(string scope, IReadOnlyList<WindowSpec> windows, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(windows);

        // A window counts when any part of it lies in the range: its start may be up to one window length before it.
        var earliest = from - windows.Max(w => w.Size);
        var statement = Statement(scope, windows.Select(w => w.Name).ToArray(), earliest, until);
        var query = new StringBuilder(_options.Url.TrimEnd('/')).Append("/query?db=").Append(Uri.EscapeDataString(Database));
        if (_options.IsV1 && !string.IsNullOrEmpty(_options.RetentionPolicy))
        {
            query.Append("&rp=").Append(Uri.EscapeDataString(_options.RetentionPolicy));
        }

        query.Append("&epoch=ms&q=").Append(Uri.EscapeDataString(statement));
        string body;
        try
        {
            using var response = await _http.GetAsync(new Uri(query.ToString()), cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new KpiQueryException(string.Create(CultureInfo.InvariantCulture,
                    $"InfluxDB at {Server} answered {(int)response.StatusCode} {response.ReasonPhrase} to the query of database '{Database}': {ErrorOf(body)}{Hint((int)response.StatusCode)}"));
            }
        }
        catch (HttpRequestException ex)
        {
            throw new KpiQueryException($"InfluxDB at {Server} is unreachable: {ex.Message} (check PrintFarm:Influx:Url)", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KpiQueryException($"InfluxDB at {Server} did not answer within {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (PrintFarm:Influx:Timeout)", ex);
        }

        var rows = Parse(body, scope, windows, from);
        return rows;
    }

    private List<KpiRow> Parse(string body, string scope, IReadOnlyList<WindowSpec> windows, DateTimeOffset from)
    {
        var rows = new List<KpiRow>();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new KpiQueryException($"InfluxDB at {Server} answered something that is not InfluxQL JSON: {Shorten(body)}", ex);
        }

        using (doc)
        {
            if (doc.RootElement.TryGetProperty("error", out var topError))
            {
                throw new KpiQueryException($"InfluxDB at {Server} answered an error: {topError}");
            }

            foreach (var result in doc.RootElement.TryGetProperty("results", out var results) ? results.EnumerateArray() : default)
            {
                if (result.TryGetProperty("error", out var error))
                {
                    throw new KpiQueryException($"InfluxDB at {Server} answered an error for database '{Database}': {error.GetString()}");
                }

                if (!result.TryGetProperty("series", out var series))
                {
                    continue;
                }

                foreach (var s in series.EnumerateArray())
                {
                    var columns = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString() ?? string.Empty).ToArray();
                    foreach (var values in s.GetProperty("values").EnumerateArray())
                    {
                        if (ToRow(columns, values, scope, windows, from) is { } row)
                        {
                            rows.Add(row);
                        }
                    }
                }
            }
        }

        // Clustered mode: a farm, toy or material window comes as one partial point per partition; one row of their sums.
        rows = rows.GroupBy(r => (r.Window, r.Start, r.Subject)).Select(g => g.Skip(1).Any() ? Merged(g.ToList()) : g.First()).ToList();
        var order = windows.Select((w, i) => (w.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        return rows.OrderBy(r => order[r.Window]).ThenBy(r => r.Start).ThenBy(r => r.Subject, StringComparer.Ordinal).ToList();
    }

    private static KpiRow? ToRow(string[] columns, JsonElement values, string scope, IReadOnlyList<WindowSpec> windows, DateTimeOffset from)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        var fields = new Dictionary<string, object>(StringComparer.Ordinal);
        long time = 0;
        var i = 0;
        foreach (var v in values.EnumerateArray())
        {
            var column = columns[i++];
            if (column == "time")
            {
                time = v.ValueKind == JsonValueKind.Number ? v.GetInt64() : DateTimeOffset.Parse(v.GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
            }
            else if (TagNames.Contains(column))
            {
                if (v.ValueKind == JsonValueKind.String)
                {
                    tags[column] = v.GetString()!;
                }
            }
            else if (v.ValueKind == JsonValueKind.Number)
            {
                fields[column] = v.GetDouble();
            }
            else if (v.ValueKind == JsonValueKind.String)
            {
                fields[column] = v.GetString()!;
            }
        }

        var start = DateTimeOffset.FromUnixTimeMilliseconds(time);
        var window = tags.GetValueOrDefault("window", string.Empty);
        if (windows.FirstOrDefault(w => w.Name == window) is not { } spec || spec.EndOf(start) <= from)
        {
            return null;
        }

        var subject = scope switch { "printer" or "toy" or "material" => tags.GetValueOrDefault(scope, string.Empty), _ => string.Empty };
        return new KpiRow(window, start, subject, new LinePoint("kpi", tags, fields, time));
    }

    private static KpiRow Merged(List<KpiRow> partials)
    {
        var first = partials[0];
        var tags = first.Point.Tags.Where(t => t.Key != "partition").ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        var sums = KpiPartials.Merge(partials.Select(p => p.Point.Fields.Where(f => f.Value is double).ToDictionary(f => f.Key, f => (double)f.Value, StringComparer.Ordinal)));
        var fields = sums.ToDictionary(f => f.Key, f => (object)f.Value, StringComparer.Ordinal);
        return first with { Point = new LinePoint(first.Point.Measurement, tags, fields, first.Point.TimestampMs) };
    }

    private static string Hint(int status) => status switch
    {
        401 or 403 => " (check PrintFarm:Influx:Token, or Username and Password with the v1 API)",
        404 => " (InfluxDB 2.x answers InfluxQL only for a bucket with a DBRP mapping: ./build.sh setup creates it)",
        _ => string.Empty,
    };

    private static string ErrorOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && (doc.RootElement.TryGetProperty("error", out var e) || doc.RootElement.TryGetProperty("message", out e)))
            {
                return e.ToString();
            }
        }
        catch (JsonException)
        {
        }

        return Shorten(body);
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private static string Rfc3339(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    // An InfluxQL string literal: single quotes, backslash and quote escaped.
    private static string Literal(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
