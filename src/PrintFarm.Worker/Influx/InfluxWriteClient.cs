using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Influx;

/// <summary>What became of one write request.</summary>
internal enum WriteStatus
{
    /// <summary>Written (2xx).</summary>
    Ok,

    /// <summary>Worth retrying: network error, timeout, 408, 429 or 5xx.</summary>
    Transient,

    /// <summary>The database names the data as bad (400 "partial write", "unable to parse", "field type conflict"; 422): retrying cannot help; dead-letter it.</summary>
    BadData,

    /// <summary>The request is too large (413): split it.</summary>
    TooLarge,

    /// <summary>
    /// The server refuses us, not the data (any other 4xx: 401, 403, 404 token, permission, database, bucket or URL; a
    /// v2 write to InfluxDB 1.x before 1.8): keep the data until the configuration is fixed.
    /// </summary>
    Refused,
}

/// <summary>The write API in use: v1 <c>/write</c> or v2 <c>/api/v2/write</c>.</summary>
internal enum InfluxApi
{
    /// <summary><c>POST /write?db=&amp;rp=</c>, basic auth (InfluxDB 1.x; 2.x and 3.x accept it too).</summary>
    V1,

    /// <summary><c>POST /api/v2/write?bucket=&amp;org=</c>, <c>Authorization: Token</c> (InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics).</summary>
    V2,
}

/// <summary>The outcome of a write request; <paramref name="Hint"/> says which setting to check when the server refuses us.</summary>
internal readonly record struct WriteResult(WriteStatus Status, string StatusText, string Error, TimeSpan? RetryAfter, string? Hint = null)
{
    public static WriteResult Ok { get; } = new(WriteStatus.Ok, "204", string.Empty, null);
}

/// <summary>
/// InfluxDB's HTTP write API, v1 (<c>POST /write?db=&amp;rp=&amp;precision=</c>, basic auth) or v2
/// (<c>POST /api/v2/write?org=&amp;bucket=&amp;precision=</c>, <c>Authorization: Token</c>). One request per call, no retries:
/// it classifies the answer (<see cref="InfluxAnswer"/>) and the writer decides. Network errors come back as
/// <see cref="WriteStatus.Transient"/>. With <c>ApiVersion</c> <c>auto</c> (the default) the API is picked from the
/// server's <c>/ping</c> before the first write (issue 19 item 4): <c>X-Influxdb-Version</c> 1.x → v1; 2.x, 3.x or no
/// version header (VictoriaMetrics) → v2. With <c>v2</c> set against InfluxDB 1.x before 1.8, which has no
/// <c>/api/v2/write</c>, every write is refused with the setting to change.
/// </summary>
internal sealed class InfluxWriteClient : ILineSink
{
    private readonly HttpClient _http;
    private readonly InfluxOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Uri _pingUri;
    private Target? _target;

    public InfluxWriteClient(HttpClient http, IOptions<PrintFarmOptions> options, TimeProvider time, ILogger<InfluxWriteClient>? logger = null)
    {
        _http = http;
        _time = time;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _options = options.Value.Influx;
        _http.Timeout = _options.Timeout;
        _pingUri = new Uri(_options.Url.TrimEnd('/') + "/ping");
    }

    /// <summary>The API writes go through, once known (after the first write when <c>ApiVersion</c> is <c>auto</c>).</summary>
    public InfluxApi? Api => Volatile.Read(ref _target)?.Api;

    /// <summary>The server's <c>X-Influxdb-Version</c>, once asked ("unknown" when it sends none).</summary>
    public string? ServerVersion => Volatile.Read(ref _target)?.Version;

    public static Uri BuildWriteUri(InfluxOptions o, InfluxApi api)
    {
        var baseUrl = o.Url.TrimEnd('/');
        var query = new StringBuilder();
        if (api == InfluxApi.V1)
        {
            query.Append("/write?db=").Append(Uri.EscapeDataString(o.Database ?? o.Bucket ?? string.Empty));
            if (!string.IsNullOrEmpty(o.RetentionPolicy))
            {
                query.Append("&rp=").Append(Uri.EscapeDataString(o.RetentionPolicy));
            }
        }
        else
        {
            query.Append("/api/v2/write?bucket=").Append(Uri.EscapeDataString(o.Bucket ?? o.Database ?? string.Empty));
            if (!string.IsNullOrEmpty(o.Org))
            {
                query.Append("&org=").Append(Uri.EscapeDataString(o.Org));
            }
        }

        query.Append("&precision=").Append(LineBuilder.Precision);
        return new Uri(baseUrl + query);
    }

    public async Task<WriteResult> WriteAsync(LineBuffer lines, CancellationToken cancellationToken)
    {
        var target = Volatile.Read(ref _target);
        if (target is null)
        {
            var (resolved, failure) = await ResolveAsync(cancellationToken).ConfigureAwait(false);
            if (resolved is null)
            {
                return failure;
            }

            target = resolved;
        }

        if (target.Refusal is { } refusal)
        {
            return refusal;
        }

        // The lines are the body already; with gzip on it is compressed into a pooled buffer.
        using var compressed = _options.Gzip ? Compress(lines.Bytes) : null;
        using var request = new HttpRequestMessage(HttpMethod.Post, target.WriteUri) { Content = CreateContent(compressed?.Written ?? lines.Bytes) };
        request.Headers.Authorization = target.Authorization;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return WriteResult.Ok;
            }

            var answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return InfluxAnswer.Classify(response.StatusCode, answer, RetryAfter(response, _time.GetUtcNow()), target.Api, _options);
        }
        catch (HttpRequestException ex)
        {
            return new WriteResult(WriteStatus.Transient, "network", ex.Message, null);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new WriteResult(WriteStatus.Transient, "timeout", ex.Message, null);
        }
    }

    // Asks /ping which server this is and settles the API. An unreachable server settles nothing: the write is
    // transient (retried, spooled) and the next one asks again.
    private async Task<(Target? Target, WriteResult Failure)> ResolveAsync(CancellationToken cancellationToken)
    {
        var configured = _options.IsV1 ? InfluxApi.V1 : _options.IsV2 ? InfluxApi.V2 : (InfluxApi?)null;
        string? version;
        string? build;
        try
        {
            using var ping = new HttpRequestMessage(HttpMethod.Get, _pingUri);
            using var response = await _http.SendAsync(ping, cancellationToken).ConfigureAwait(false);
            version = response.IsSuccessStatusCode ? Header(response, "X-Influxdb-Version") : null;
            build = response.IsSuccessStatusCode ? Header(response, "X-Influxdb-Build") : null;
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            if (configured is { } known)
            {
                // The setting says which API; the write itself will tell whether the server is there.
                return (Settle(known, version: null, build: null, refusal: null), default);
            }

            return (null, new WriteResult(WriteStatus.Transient, ex is HttpRequestException ? "network" : "timeout", $"asking {Server} /ping which InfluxDB this is: {ex.Message}", null));
        }

        var isV1Server = version is not null && (version.StartsWith("1.", StringComparison.Ordinal) || version.StartsWith("v1.", StringComparison.Ordinal));
        var api = configured ?? (isV1Server ? InfluxApi.V1 : InfluxApi.V2);
        WriteResult? refusal = null;
        if (api == InfluxApi.V2 && isV1Server && !HasV2Api(version!))
        {
            // InfluxDB 1.x has /api/v2/write only from 1.8: every write would be a 404.
            refusal = new WriteResult(
                WriteStatus.Refused,
                "no v2 API",
                $"InfluxDB {version} at {Server} has no /api/v2/write (1.8 and later have)",
                null,
                $"set PrintFarm:Influx:ApiVersion to v1 (or auto) and PrintFarm:Influx:Database");
            Log.InfluxApiMismatch(_logger, version!, Server);
        }

        return (Settle(api, version ?? "unknown", build, refusal), default);
    }

    private Target Settle(InfluxApi api, string? version, string? build, WriteResult? refusal)
    {
        AuthenticationHeaderValue? auth = null;
        if (api == InfluxApi.V1)
        {
            if (!string.IsNullOrEmpty(_options.Username))
            {
                var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_options.Username}:{_options.Password}"));
                auth = new AuthenticationHeaderValue("Basic", credentials);
            }
        }
        else if (!string.IsNullOrEmpty(_options.Token))
        {
            auth = new AuthenticationHeaderValue("Token", _options.Token);
        }

        var target = new Target(api, BuildWriteUri(_options, api), auth, version, refusal);
        if (Interlocked.CompareExchange(ref _target, target, null) is { } first)
        {
            return first; // another lane settled it first
        }

        if (version is not null && refusal is null)
        {
            var endpoint = api == InfluxApi.V1 ? "/write" : "/api/v2/write";
            var chosen = _options.IsV1 || _options.IsV2 ? $"ApiVersion {_options.ApiVersion}" : "ApiVersion auto";
            Log.InfluxApiChosen(_logger, Server, version, build ?? "-", endpoint, chosen);
        }

        return target;
    }

    // Scheme, host and port only: the URL may carry credentials.
    private string Server => new Uri(_options.Url).GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped);

    private static bool HasV2Api(string version)
    {
        var digits = version.TrimStart('v').Split('.', '~', '-', '+');
        return digits.Length >= 2 && int.TryParse(digits[1], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var minor) && minor >= 8;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private sealed record Target(InfluxApi Api, Uri WriteUri, AuthenticationHeaderValue? Authorization, string? Version, WriteResult? Refusal);

    private static PooledBufferStream Compress(ArraySegment<byte> body)
    {
        var buffer = new PooledBufferStream(body.Count / 4);
        try
        {
            using var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true);
            gzip.Write(body);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }

        return buffer;
    }

    private ByteArrayContent CreateContent(ArraySegment<byte> body)
    {
        var content = new ByteArrayContent(body.Array!, body.Offset, body.Count);
        if (_options.Gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
        return content;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }
}
