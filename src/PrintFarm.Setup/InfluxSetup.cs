using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Api.Service;

namespace PrintFarm.Setup;

/// <summary>What <see cref="InfluxSetup"/> is asked to make sure of.</summary>
internal sealed record SetupOptions
{
    /// <summary>The server, e.g. <c>http://localhost:8086</c>.</summary>
    public required string Url { get; init; }

    /// <summary>The organisation. Default <c>printfarm</c>.</summary>
    public string Org { get; init; } = "printfarm";

    /// <summary>The bucket the worker writes to. Default <c>printfarm</c>.</summary>
    public string Bucket { get; init; } = "printfarm";

    /// <summary>How long the bucket keeps data; zero keeps it forever. Default zero.</summary>
    public TimeSpan Retention { get; init; }

    /// <summary>The InfluxQL database name of the DBRP mapping (the board's and <c>kpis</c>'s <c>db=</c>). Default: the bucket's name.</summary>
    public string? Database { get; init; }

    /// <summary>The InfluxQL retention policy of the mapping. Default <c>autogen</c>.</summary>
    public string RetentionPolicy { get; init; } = "autogen";

    /// <summary>Description of the worker's token, by which a second run finds it. Default <c>printfarm-telemetry worker</c>.</summary>
    public string TokenDescription { get; init; } = "printfarm-telemetry worker";

    /// <summary>An all-access (operator) token, needed once the server is set up; not needed for the first run.</summary>
    public string? AdminToken { get; init; }

    /// <summary>The initial user of a server not yet set up (onboarding).</summary>
    public string? Username { get; init; }

    /// <summary>The initial user's password (onboarding; at least 8 characters).</summary>
    public string? Password { get; init; }

    /// <summary>The InfluxQL database name in effect.</summary>
    public string DatabaseName => string.IsNullOrEmpty(Database) ? Bucket : Database;
}

/// <summary>What a run found or created, and the token the worker writes with.</summary>
internal sealed record SetupResult(IReadOnlyList<string> Steps, string OrgId, string BucketId, string? WriteToken, bool Created)
{
    /// <summary>The administrator's token, when this run onboarded the server (printed once, never stored).</summary>
    public string? OnboardedAdminToken { get; init; }
}

/// <summary>A setup that cannot go on: the message says what to pass or fix.</summary>
internal sealed class SetupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Makes an InfluxDB 2.x ready for the worker, idempotently, through the official client's management APIs:
/// onboarding (<c>/api/v2/setup</c>) when the server is new, the organisation, the bucket, a read/write token for the
/// bucket (<c>/api/v2/authorizations</c>) and the DBRP mapping (<c>/api/v2/dbrps</c>) that lets InfluxQL (the Grafana
/// board, <c>kpis</c>) read the bucket as a database. What exists already is found and left as it is.
/// </summary>
internal static class InfluxSetup
{
    public static async Task<SetupResult> RunAsync(SetupOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var steps = new List<string>();
        var created = false;
        var adminToken = options.AdminToken;
        string? onboardedToken = null;
        string? writeToken = null;

        using (var anonymous = new InfluxDBClient(options.Url))
        {
            if (await anonymous.IsOnboardingAllowedAsync().ConfigureAwait(false))
            {
                if (string.IsNullOrEmpty(options.Username) || string.IsNullOrEmpty(options.Password))
                {
                    throw new SetupException($"InfluxDB at {options.Url} is not set up yet: pass --username and --password for its first user (the password at least 8 characters)");
                }

                var retention = options.Retention > TimeSpan.Zero ? (long)options.Retention.TotalSeconds : 0;
                var onboarding = await anonymous.OnboardingAsync(new OnboardingRequest(options.Username, options.Password, options.Org, options.Bucket, retention, null, string.IsNullOrEmpty(adminToken) ? null : adminToken)).ConfigureAwait(false);
                adminToken = onboarding.Auth.Token;
                onboardedToken = adminToken;
                created = true;
                steps.Add($"server: set up with user '{options.Username}', org '{options.Org}' and bucket '{options.Bucket}' (onboarding)");
            }
            else
            {
                steps.Add("server: set up already");
            }
        }

        if (string.IsNullOrEmpty(adminToken))
        {
            throw new SetupException($"InfluxDB at {options.Url} is set up already: pass --admin-token (or INFLUX_TOKEN) with an all-access token (influx auth list) to create the bucket, token and DBRP mapping");
        }

        using var client = new InfluxDBClient(options.Url, adminToken);

        var orgs = await client.GetOrganizationsApi().FindOrganizationsAsync(org: options.Org, cancellationToken: cancellationToken).ConfigureAwait(false);
        var org = orgs?.FirstOrDefault(o => o.Name == options.Org);
        if (org is null)
        {
            org = await client.GetOrganizationsApi().CreateOrganizationAsync(options.Org, cancellationToken).ConfigureAwait(false);
            created = true;
            steps.Add($"org '{org.Name}': created ({org.Id})");
        }
        else
        {
            steps.Add($"org '{org.Name}': exists ({org.Id})");
        }

        var buckets = await client.GetBucketsApi().FindBucketsAsync(orgID: org.Id, name: options.Bucket, cancellationToken: cancellationToken).ConfigureAwait(false);
        var bucket = buckets?.FirstOrDefault(b => b.Name == options.Bucket);
        if (bucket is null)
        {
            var rules = new BucketRetentionRules(BucketRetentionRules.TypeEnum.Expire, options.Retention > TimeSpan.Zero ? (long)options.Retention.TotalSeconds : 0);
            bucket = await client.GetBucketsApi().CreateBucketAsync(options.Bucket, rules, org.Id, cancellationToken).ConfigureAwait(false);
            created = true;
            steps.Add($"bucket '{bucket.Name}': created ({bucket.Id}, retention {(options.Retention > TimeSpan.Zero ? options.Retention.ToString() : "forever")})");
        }
        else
        {
            steps.Add($"bucket '{bucket.Name}': exists ({bucket.Id})");
        }

        var authorizations = await client.GetAuthorizationsApi().FindAuthorizationsAsync(cancellationToken).ConfigureAwait(false);
        var token = authorizations?.FirstOrDefault(a => a.OrgID == org.Id && a.Description == options.TokenDescription && a.Status != AuthorizationUpdateRequest.StatusEnum.Inactive && Writes(a, bucket.Id));
        if (token is null)
        {
            List<Permission> permissions =
            [
                new(Permission.ActionEnum.Read, new PermissionResource(PermissionResource.TypeBuckets, bucket.Id, null, org.Id)),
                new(Permission.ActionEnum.Write, new PermissionResource(PermissionResource.TypeBuckets, bucket.Id, null, org.Id)),
            ];
            token = await client.GetAuthorizationsApi().CreateAuthorizationAsync(new AuthorizationPostRequest(org.Id, null, permissions, null, options.TokenDescription), cancellationToken).ConfigureAwait(false);
            created = true;
            writeToken = token.Token;
            steps.Add($"token '{options.TokenDescription}': created ({token.Id}; read and write on bucket '{bucket.Name}')");
        }
        else
        {
            // InfluxDB 2.x lists a token's value unless token hashing is on; then only its id is known.
            writeToken = string.IsNullOrEmpty(token.Token) ? null : token.Token;
            steps.Add($"token '{options.TokenDescription}': exists ({token.Id})");
        }

        var dbrps = client.CreateService<DBRPsService>(typeof(DBRPsService));
        var mappings = (await dbrps.GetDBRPsAsync(orgID: org.Id, db: options.DatabaseName, cancellationToken: cancellationToken).ConfigureAwait(false))?.Content ?? [];
        var mapping = mappings.FirstOrDefault(m => m.Database == options.DatabaseName && m.RetentionPolicy == options.RetentionPolicy);
        if (mapping is null)
        {
            mapping = await dbrps.PostDBRPAsync(new DBRPCreate(org.Id, null, bucket.Id, options.DatabaseName, options.RetentionPolicy, true), cancellationToken: cancellationToken).ConfigureAwait(false);
            created = true;
            steps.Add($"DBRP mapping '{options.DatabaseName}/{options.RetentionPolicy}' -> bucket '{bucket.Name}': created ({mapping.Id})");
        }
        else if (mapping.BucketID != bucket.Id)
        {
            throw new SetupException($"InfluxQL database '{options.DatabaseName}/{options.RetentionPolicy}' is mapped to another bucket ({mapping.BucketID}), not to '{bucket.Name}' ({bucket.Id}): pass --database with another name, or remove that mapping (influx v1 dbrp delete --id {mapping.Id})");
        }
        else
        {
            steps.Add($"DBRP mapping '{options.DatabaseName}/{options.RetentionPolicy}' -> bucket '{bucket.Name}': exists ({mapping.Id})");
        }

        return new SetupResult(steps, org.Id, bucket.Id, writeToken, created) { OnboardedAdminToken = onboardedToken };
    }

    private static bool Writes(Authorization authorization, string bucketId) =>
        authorization.Permissions?.Any(p => p.Action == Permission.ActionEnum.Write && p.Resource?.Type == PermissionResource.TypeBuckets && (p.Resource.Id == bucketId || p.Resource.Id is null)) == true;
}
