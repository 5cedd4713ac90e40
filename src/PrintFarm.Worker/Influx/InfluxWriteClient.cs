using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Influx;

/// <summary>What became of one write request.</summary>
internal enum WriteStatus
{
    /// <summary>Written (2xx).</summary>
    Ok,

    /// <summary>Worth retrying: network error, timeout, 429 or 5xx.</summary>
    Transient,

    /// <summary>The data is bad (400, 422): retrying cannot help; dead-letter it.</summary>
    BadData,

    /// <summary>The request is too large (413): split it.</summary>
    TooLarge,

    /// <summary>The server refuses us (401, 403, 404: token, database or bucket): the data is fine, keep it until the configuration is fixed.</summary>
    Refused,
}

/// <summary>The outcome of a write request.</summary>
internal readonly record struct WriteResult(WriteStatus Status, string StatusText, string Error, TimeSpan? RetryAfter)
{
    public static WriteResult Ok { get; } = new(WriteStatus.Ok, "204", string.Empty, null);
}

/// <summary>
/// InfluxDB's HTTP write API, v1 (<c>POST /write?db=&amp;rp=&amp;precision=</c>, basic auth) or v2
/// (<c>POST /api/v2/write?org=&amp;bucket=&amp;precision=</c>, <c>Authorization: Token</c>). One request per call, no retries:
/// it classifies the answer and the writer decides. Network errors come back as <see cref="WriteStatus.Transient"/>.
/// </summary>
internal sealed class InfluxWriteClient : ILineSink
{
    private readonly HttpClient _http;
    private readonly InfluxOptions _options;
    private readonly TimeProvider _time;
    private readonly Uri _writeUri;

    public InfluxWriteClient(HttpClient http, IOptions<PrintFarmOptions> options, TimeProvider time)
    {
        _http = http;
        _time = time;
        _options = options.Value.Influx;
        _http.Timeout = _options.Timeout;
        _writeUri = BuildWriteUri(_options);
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

    /// <summary>The write endpoint, with its query string.</summary>
    public Uri WriteUri => _writeUri;

    public static Uri BuildWriteUri(InfluxOptions o)
    {
        var baseUrl = o.Url.TrimEnd('/');
        var query = new StringBuilder();
        if (o.IsV1)
        {
            query.Append("/write?db=").Append(Uri.EscapeDataString(o.Database ?? string.Empty));
            if (!string.IsNullOrEmpty(o.RetentionPolicy))
            {
                query.Append("&rp=").Append(Uri.EscapeDataString(o.RetentionPolicy));
            }
        }
        else
        {
            query.Append("/api/v2/write?bucket=").Append(Uri.EscapeDataString(o.Bucket ?? string.Empty));
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
        // The lines are the body already; with gzip on it is compressed into a pooled buffer.
        using var compressed = _options.Gzip ? Compress(lines.Bytes) : null;
        using var request = new HttpRequestMessage(HttpMethod.Post, _writeUri) { Content = CreateContent(compressed?.Written ?? lines.Bytes) };
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return WriteResult.Ok;
            }

            var answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            var text = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var error = answer.Length > 500 ? answer[..500] : answer;
            var status = response.StatusCode switch
            {
                HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => WriteStatus.BadData,
                HttpStatusCode.RequestEntityTooLarge => WriteStatus.TooLarge,
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound => WriteStatus.Refused,
                _ => WriteStatus.Transient,
            };
            return new WriteResult(status, text, error, RetryAfter(response, _time.GetUtcNow()));
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
