using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace PrintFarm.Setup.Tests.Support;

/// <summary>
/// The management API of an InfluxDB 2.x as far as setup uses it (no 2.x server is installed here): onboarding
/// (<c>/api/v2/setup</c>), orgs, buckets, authorizations and DBRP mappings, held in memory, on a free loopback port.
/// Every request is recorded as <c>METHOD /path</c>; anything but onboarding needs the admin token.
/// </summary>
internal sealed class FakeInflux2 : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly object _gate = new();
    private int _nextId = 0x1000;

    private FakeInflux2(int port)
    {
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    /// <summary>Every request, in order, as <c>METHOD /path</c>.</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    public bool Onboarded { get; private set; }

    public string? AdminToken { get; private set; }

    public List<JsonObject> Orgs { get; } = [];

    public List<JsonObject> Buckets { get; } = [];

    public List<JsonObject> Authorizations { get; } = [];

    public List<JsonObject> Dbrps { get; } = [];

    /// <summary>The creating requests (POST), e.g. to assert that a second run creates nothing.</summary>
    public IReadOnlyList<string> Creates => Calls.Where(c => c.StartsWith("POST ", StringComparison.Ordinal)).ToList();

    /// <summary>A new, not yet onboarded server.</summary>
    public static FakeInflux2 Start() => new(FreePort());

    /// <summary>A server onboarded already (as compose's DOCKER_INFLUXDB_INIT_MODE=setup leaves it), with an org and optionally the bucket.</summary>
    public static FakeInflux2 StartSetUp(string adminToken, string org, string? bucket)
    {
        var server = Start();
        server.Onboarded = true;
        server.AdminToken = adminToken;
        var o = server.AddOrg(org);
        if (bucket is not null)
        {
            server.AddBucket(bucket, (string)o["id"]!);
        }

        return server;
    }

    public JsonObject AddOrg(string name)
    {
        lock (_gate)
        {
            var org = new JsonObject { ["id"] = NewId(), ["name"] = name, ["status"] = "active" };
            Orgs.Add(org);
            return org;
        }
    }

    public JsonObject AddBucket(string name, string orgId)
    {
        lock (_gate)
        {
            var bucket = new JsonObject { ["id"] = NewId(), ["name"] = name, ["orgID"] = orgId, ["type"] = "user", ["retentionRules"] = new JsonArray() };
            Buckets.Add(bucket);
            return bucket;
        }
    }

    public JsonObject AddDbrp(string database, string rp, string bucketId, string orgId)
    {
        lock (_gate)
        {
            var dbrp = new JsonObject { ["id"] = NewId(), ["database"] = database, ["retention_policy"] = rp, ["bucketID"] = bucketId, ["orgID"] = orgId, ["default"] = true };
            Dbrps.Add(dbrp);
            return dbrp;
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                var request = context.Request;
                var path = request.Url!.AbsolutePath;
                Calls.Enqueue($"{request.HttpMethod} {path}");
                using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
                var text = await reader.ReadToEndAsync();
                var body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
                var (status, answer) = Handle(request.HttpMethod, path, request.QueryString, request.Headers["Authorization"], body);
                var bytes = Encoding.UTF8.GetBytes(answer.ToJsonString());
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json; charset=utf-8";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                // The client went away.
            }
        }
    }

    private (int Status, JsonNode Body) Handle(string method, string path, System.Collections.Specialized.NameValueCollection query, string? authorization, JsonObject? body)
    {
        lock (_gate)
        {
            if (path == "/api/v2/setup")
            {
                if (method == "GET")
                {
                    return (200, new JsonObject { ["allowed"] = !Onboarded });
                }

                if (Onboarded)
                {
                    return (422, Error("unprocessable entity", "onboarding has already been completed"));
                }

                Onboarded = true;
                AdminToken = (string?)body?["token"] ?? "admin-" + NewId();
                var org = AddOrg((string)body!["org"]!);
                var bucket = AddBucket((string)body["bucket"]!, (string)org["id"]!);
                var user = new JsonObject { ["id"] = NewId(), ["name"] = (string)body["username"]!, ["status"] = "active" };
                var auth = Authorization(AdminToken, "admin's Token", (string)org["id"]!, new JsonArray(Permission("write", "users", null, null)));
                Authorizations.Add(auth);
                return (201, new JsonObject { ["user"] = user, ["org"] = org.DeepClone(), ["bucket"] = bucket.DeepClone(), ["auth"] = auth.DeepClone() });
            }

            if (authorization != "Token " + AdminToken || AdminToken is null)
            {
                return (401, Error("unauthorized", "unauthorized access"));
            }

            switch (method, path)
            {
                case ("GET", "/api/v2/orgs"):
                    return (200, new JsonObject { ["orgs"] = Array(Orgs.Where(o => query["org"] is not { } name || (string)o["name"]! == name)) });
                case ("POST", "/api/v2/orgs"):
                    return (201, AddOrg((string)body!["name"]!).DeepClone());
                case ("GET", "/api/v2/buckets"):
                    return (200, new JsonObject
                    {
                        ["buckets"] = Array(Buckets.Where(b => (query["orgID"] is not { } org || (string)b["orgID"]! == org) && (query["name"] is not { } name || (string)b["name"]! == name))),
                    });
                case ("POST", "/api/v2/buckets"):
                    var bucket = AddBucket((string)body!["name"]!, (string)body["orgID"]!);
                    bucket["retentionRules"] = body["retentionRules"]?.DeepClone() ?? new JsonArray();
                    return (201, bucket.DeepClone());
                case ("GET", "/api/v2/authorizations"):
                    return (200, new JsonObject { ["authorizations"] = Array(Authorizations) });
                case ("POST", "/api/v2/authorizations"):
                    var created = Authorization("worker-" + NewId(), (string?)body!["description"] ?? string.Empty, (string)body["orgID"]!, (JsonArray)body["permissions"]!.DeepClone());
                    Authorizations.Add(created);
                    return (201, created.DeepClone());
                case ("GET", "/api/v2/dbrps"):
                    return (200, new JsonObject
                    {
                        ["content"] = Array(Dbrps.Where(d => (query["orgID"] is not { } org || (string)d["orgID"]! == org) && (query["db"] is not { } db || (string)d["database"]! == db))),
                    });
                case ("POST", "/api/v2/dbrps"):
                    return (201, AddDbrp((string)body!["database"]!, (string)body["retention_policy"]!, (string)body["bucketID"]!, (string)body["orgID"]!).DeepClone());
                default:
                    return (404, Error("not found", $"path not found: {method} {path}"));
            }
        }
    }

    private JsonObject Authorization(string token, string description, string orgId, JsonArray permissions) => new()
    {
        ["id"] = NewId(),
        ["token"] = token,
        ["status"] = "active",
        ["description"] = description,
        ["orgID"] = orgId,
        ["permissions"] = permissions,
    };

    private static JsonObject Permission(string action, string type, string? id, string? orgId) => new()
    {
        ["action"] = action,
        ["resource"] = new JsonObject { ["type"] = type, ["id"] = id, ["orgID"] = orgId },
    };

    private static JsonArray Array(IEnumerable<JsonObject> items) => new(items.Select(i => (JsonNode)i.DeepClone()).ToArray());

    private static JsonObject Error(string code, string message) => new() { ["code"] = code, ["message"] = message };

    private string NewId() => (_nextId++).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
