using System.Globalization;
using System.Net;
using System.Text.Json;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Influx;

/// <summary>
/// Reads InfluxDB's answer to a write the way Telegraf does, plus one rule of ours: a 4xx is only bad data when the
/// database says so. InfluxDB 1.x answers <c>{"error":"partial write: unable to parse '…': invalid boolean dropped=0"}</c>
/// or <c>{"error":"partial write: field type conflict: …"}</c> (400, and it writes the good lines of the batch);
/// 2.x answers <c>{"code":"invalid","message":"unable to parse …"}</c> (400) or <c>{"code":"unprocessable entity",…}</c>
/// (422); 3.x <c>{"error":"partial write of line protocol occurred",…}</c> (400). Any other 4xx — a 400 from a proxy, a
/// 401 wrong token, a 403 missing permission, a 404 wrong bucket, database or URL — says nothing about the lines: they
/// are kept and retried, and readiness fails naming the setting to check.
/// </summary>
internal static class InfluxAnswer
{
    // Substrings of the error text by which InfluxDB 1.x/2.x/3.x and VictoriaMetrics name bad data.
    private static readonly string[] BadDataMarkers =
    [
        "partial write",
        "unable to parse",
        "field type conflict",
        "points beyond retention policy",
        "invalid field format",
        "bad timestamp",
        "cannot parse",
        "parsing failed",
    ];

    /// <summary>Classifies a non-2xx answer. <paramref name="body"/> is the response body (a JSON error object, or text).</summary>
    public static WriteResult Classify(HttpStatusCode status, string body, TimeSpan? retryAfter, InfluxApi api, InfluxOptions options)
    {
        var code = (int)status;
        var text = code.ToString(CultureInfo.InvariantCulture);
        var error = ErrorText(body);
        if (error.Length > 500)
        {
            error = error[..500];
        }

        if (code == 422 || (code == 400 && NamesBadData(error)))
        {
            return new WriteResult(WriteStatus.BadData, text, error, null);
        }

        if (code == 413)
        {
            return new WriteResult(WriteStatus.TooLarge, text, error, null, TooLargeHint);
        }

        if (code is 408 or 429 or >= 500)
        {
            return new WriteResult(WriteStatus.Transient, text, error, retryAfter);
        }

        return new WriteResult(WriteStatus.Refused, text, error, retryAfter, Hint(code, error, api, options));
    }

    /// <summary>What to change when a single line is too large for the server.</summary>
    public const string TooLargeHint =
        "a single line is refused as too large: raise the server's request limit (InfluxDB 1.x [http] max-body-size, " +
        "a proxy's client_max_body_size) or lower PrintFarm:Influx:BatchSize";

    /// <summary>True when the error text is the database naming bad lines.</summary>
    public static bool NamesBadData(string error) =>
        BadDataMarkers.Any(m => error.Contains(m, StringComparison.OrdinalIgnoreCase));

    /// <summary>The <c>error</c> (1.x, 3.x) or <c>message</c> (2.x) of a JSON error body; the body itself otherwise.</summary>
    public static string ErrorText(string body)
    {
        var trimmed = body.AsSpan().Trim();
        if (trimmed.Length > 1 && trimmed[0] == '{')
        {
            try
            {
                using var json = JsonDocument.Parse(body);
                if (json.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var name in (ReadOnlySpan<string>)["error", "message"])
                    {
                        if (json.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                        {
                            var message = value.GetString() ?? string.Empty;

                            // 3.x lists the bad lines in "data"; keep them with the message.
                            return json.RootElement.TryGetProperty("data", out var data) ? message + " " + data.GetRawText() : message;
                        }
                    }
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: the text is the error.
            }
        }

        return trimmed.ToString();
    }

    private static string Hint(int code, string error, InfluxApi api, InfluxOptions o)
    {
        var endpoint = api == InfluxApi.V1 ? "/write" : "/api/v2/write";
        return code switch
        {
            401 => api == InfluxApi.V1
                ? "the database refused the credentials: check PrintFarm:Influx:Username and Password (or PasswordFile)"
                : "the database refused the token: check PrintFarm:Influx:Token (or TokenFile)",
            403 => api == InfluxApi.V1
                ? $"the user may not write to database {o.Database}: grant it WRITE, or check PrintFarm:Influx:Username"
                : $"the token may not write to bucket {o.Bucket}: give it write permission on the bucket, or check PrintFarm:Influx:Token",
            404 when error.Contains("database", StringComparison.OrdinalIgnoreCase) =>
                $"create the database (CREATE DATABASE \"{o.Database}\") or set PrintFarm:Influx:Database",
            404 when error.Contains("bucket", StringComparison.OrdinalIgnoreCase) =>
                $"create bucket {o.Bucket} in org {o.Org} (./build.sh setup) or set PrintFarm:Influx:Bucket",
            404 when error.Contains("org", StringComparison.OrdinalIgnoreCase) =>
                $"org {o.Org} does not exist: set PrintFarm:Influx:Org",
            404 => $"the server has no {endpoint}: check PrintFarm:Influx:Url, and PrintFarm:Influx:ApiVersion (v1 for InfluxDB 1.x, v2 for 2.x/3.x, auto to ask the server)",
            _ => $"the server refused the request, not its data: check PrintFarm:Influx:Url, ApiVersion and {(api == InfluxApi.V1 ? "Database" : "Bucket and Org")}",
        };
    }
}
