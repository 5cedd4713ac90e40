using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace PrintFarm.LoadGen.Bench;

/// <summary>A minimal InfluxDB 1.x client: create a database, write a batch (no gzip, one request at a time), count, read httpd statistics.</summary>
internal sealed class Influx : IDisposable
{
    private readonly HttpClient _http;

    public Influx(string url)
    {
        _http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    }

    public void Dispose() => _http.Dispose();

    public async Task CreateDatabaseAsync(string db) => await QueryAsync(null, $"CREATE DATABASE \"{db}\"", post: true).ConfigureAwait(false);

    public async Task DropDatabaseAsync(string db) => await QueryAsync(null, $"DROP DATABASE \"{db}\"", post: true).ConfigureAwait(false);

    public async Task WriteAsync(string db, byte[] body, bool gzip = false)
    {
        if (gzip)
        {
            var buffer = new MemoryStream();
            using (var zip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(body);
            }

            body = buffer.ToArray();
        }

        using var content = new ByteArrayContent(body);
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
        using var response = await _http.PostAsync(new Uri($"/write?db={db}&precision=ms", UriKind.Relative), content).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"write failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync().ConfigureAwait(false)}");
        }
    }

    /// <summary>Points of the <c>printer</c> measurement (all printers, or one).</summary>
    public async Task<long> CountPrinterPointsAsync(string db, string? printer = null)
    {
        var where = printer is null ? string.Empty : $" WHERE \"printer\" = '{printer}'";
        using var doc = await QueryAsync(db, $"SELECT count(\"nozzle_c\") FROM \"printer\"{where}").ConfigureAwait(false);
        var result = doc.RootElement.GetProperty("results")[0];
        return result.TryGetProperty("series", out var series) ? (long)series[0].GetProperty("values")[0][1].GetDouble() : 0;
    }

    /// <summary>Whether one printer has a point at one time (a single-series lookup: cheap).</summary>
    public async Task<bool> HasPointAsync(string db, string printer, long timeMs)
    {
        using var doc = await QueryAsync(db, $"SELECT count(\"nozzle_c\") FROM \"printer\" WHERE \"printer\" = '{printer}' AND time = {timeMs}ms").ConfigureAwait(false);
        return doc.RootElement.GetProperty("results")[0].TryGetProperty("series", out _);
    }

    /// <summary>Times (Unix ms) of the points of one printer after <paramref name="afterMs"/>.</summary>
    public async Task<List<long>> TimesAsync(string db, string printer, long afterMs)
    {
        using var doc = await QueryAsync(db, $"SELECT \"nozzle_c\" FROM \"printer\" WHERE \"printer\" = '{printer}' AND time > {afterMs}ms", epochMs: true).ConfigureAwait(false);
        var list = new List<long>();
        var result = doc.RootElement.GetProperty("results")[0];
        if (result.TryGetProperty("series", out var series))
        {
            foreach (var row in series[0].GetProperty("values").EnumerateArray())
            {
                list.Add(row[0].GetInt64());
            }
        }

        return list;
    }

    /// <summary>Cumulative counters of InfluxDB's HTTP service (<c>SHOW STATS FOR 'httpd'</c>).</summary>
    public async Task<HttpdStats> HttpdStatsAsync()
    {
        using var doc = await QueryAsync(null, "SHOW STATS FOR 'httpd'").ConfigureAwait(false);
        var series = doc.RootElement.GetProperty("results")[0].GetProperty("series")[0];
        var columns = series.GetProperty("columns").EnumerateArray().Select(c => c.GetString()).ToList();
        var values = series.GetProperty("values")[0];
        long Get(string name) => columns.IndexOf(name) is var i and >= 0 ? values[i].GetInt64() : 0;
        return new HttpdStats(Get("pointsWrittenOK"), Get("writeReq"), Get("writeReqBytes"));
    }

    /// <summary>Series in a database (exact: the databases here are small).</summary>
    public async Task<long> SeriesAsync(string db)
    {
        using var doc = await QueryAsync(db, "SHOW SERIES EXACT CARDINALITY").ConfigureAwait(false);
        var result = doc.RootElement.GetProperty("results")[0];
        long total = 0;
        if (result.TryGetProperty("series", out var series))
        {
            foreach (var s in series.EnumerateArray())
            {
                total += s.GetProperty("values")[0][0].GetInt64();
            }
        }

        return total;
    }

    private async Task<JsonDocument> QueryAsync(string? db, string q, bool post = false, bool epochMs = false)
    {
        var uri = new StringBuilder("/query?q=").Append(Uri.EscapeDataString(q));
        if (db is not null)
        {
            uri.Append("&db=").Append(Uri.EscapeDataString(db));
        }

        if (epochMs)
        {
            uri.Append("&epoch=ms");
        }

        using var response = post
            ? await _http.PostAsync(new Uri(uri.ToString(), UriKind.Relative), null).ConfigureAwait(false)
            : await _http.GetAsync(new Uri(uri.ToString(), UriKind.Relative)).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        return JsonDocument.Parse(body);
    }
}

/// <summary>InfluxDB httpd counters.</summary>
internal readonly record struct HttpdStats(long Points, long Requests, long Bytes)
{
    public static HttpdStats operator -(HttpdStats a, HttpdStats b) => new(a.Points - b.Points, a.Requests - b.Requests, a.Bytes - b.Bytes);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Points} points in {Requests} requests, {Bytes / 1e6:F1} MB");
}
