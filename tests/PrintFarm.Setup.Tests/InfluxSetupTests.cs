using PrintFarm.Setup.Tests.Support;

namespace PrintFarm.Setup.Tests;

/// <summary>
/// <c>setup</c> (issue 19) against a fake InfluxDB 2.x that records the management calls: a new server is onboarded
/// and gets a worker token and the DBRP mapping; a set-up one gets what it lacks; a second run finds everything and
/// creates nothing.
/// </summary>
public sealed class InfluxSetupTests
{
    private const string Admin = "compose-admin-token";

    [Fact]
    public async Task A_new_server_is_onboarded_and_gets_a_worker_token_and_the_dbrp_mapping()
    {
        await using var server = FakeInflux2.Start();

        var (code, output, error) = await RunAsync(server, "--username", "admin", "--password", "printfarm-pw");

        Assert.True(code == 0, output + error);
        Assert.Equal(["POST /api/v2/setup", "POST /api/v2/authorizations", "POST /api/v2/dbrps"], server.Creates);
        var org = Assert.Single(server.Orgs);
        var bucket = Assert.Single(server.Buckets);
        Assert.Equal("printfarm", (string?)org["name"]);
        Assert.Equal("printfarm", (string?)bucket["name"]);
        var worker = Assert.Single(server.Authorizations, a => (string?)a["description"] == "printfarm-telemetry worker");
        var permissions = worker["permissions"]!.AsArray().Select(p => ((string?)p!["action"], (string?)p["resource"]!["type"], (string?)p["resource"]!["id"])).ToList();
        Assert.Equal([("read", "buckets", (string?)bucket["id"]), ("write", "buckets", (string?)bucket["id"])], permissions);
        var dbrp = Assert.Single(server.Dbrps);
        Assert.Equal(("printfarm", "autogen", (string?)bucket["id"], true), ((string?)dbrp["database"], (string?)dbrp["retention_policy"], (string?)dbrp["bucketID"], (bool?)dbrp["default"]));
        Assert.Contains($"PrintFarm__Influx__Token={(string?)worker["token"]}", output, StringComparison.Ordinal);
        Assert.Contains($"the first user's all-access token (keep it; pass it as --admin-token next time): {server.AdminToken}", output, StringComparison.Ordinal);

        // Second run, with the admin token the first printed: everything is found, nothing created.
        var before = server.Calls.Count;
        (code, output, error) = await RunAsync(server, "--admin-token", server.AdminToken!);
        Assert.True(code == 0, output + error);
        Assert.Equal(["GET /api/v2/setup", "GET /api/v2/orgs", "GET /api/v2/buckets", "GET /api/v2/authorizations", "GET /api/v2/dbrps"], server.Calls.Skip(before));
        Assert.Contains("setup: nothing to do, everything exists", output, StringComparison.Ordinal);
        Assert.Contains($"PrintFarm__Influx__Token={(string?)worker["token"]}", output, StringComparison.Ordinal);
        Assert.Single(server.Dbrps);
    }

    [Fact]
    public async Task A_set_up_server_gets_the_missing_org_bucket_token_and_mapping_once()
    {
        await using var server = FakeInflux2.StartSetUp(Admin, "other-org", bucket: null);
        var tokenFile = Path.Combine(Path.GetTempPath(), "printfarm-setup-" + Guid.NewGuid().ToString("N"));

        var (code, output, error) = await RunAsync(server, "--admin-token", Admin, "--org", "farm", "--bucket", "kpis", "--retention", "30d", "--database", "printfarm", "--token-file", tokenFile);

        Assert.True(code == 0, output + error);
        Assert.Equal(["POST /api/v2/orgs", "POST /api/v2/buckets", "POST /api/v2/authorizations", "POST /api/v2/dbrps"], server.Creates);
        var bucket = Assert.Single(server.Buckets);
        Assert.Equal(30 * 86400L, (long?)bucket["retentionRules"]![0]!["everySeconds"]);
        var org = Assert.Single(server.Orgs, o => (string?)o["name"] == "farm");
        Assert.Equal((string?)org["id"], (string?)bucket["orgID"]);
        var dbrp = Assert.Single(server.Dbrps);
        Assert.Equal(("printfarm", (string?)bucket["id"]), ((string?)dbrp["database"], (string?)dbrp["bucketID"]));
        var worker = Assert.Single(server.Authorizations);
        Assert.Equal((string?)worker["token"] + "\n", await File.ReadAllTextAsync(tokenFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }

        Assert.Contains("PrintFarm__Influx__TokenFile=" + tokenFile, output, StringComparison.Ordinal);

        var creates = server.Creates.Count;
        (code, output, error) = await RunAsync(server, "--admin-token", Admin, "--org", "farm", "--bucket", "kpis", "--database", "printfarm");
        Assert.True(code == 0, output + error);
        Assert.Equal(creates, server.Creates.Count);
        Assert.Contains("setup: nothing to do, everything exists", output, StringComparison.Ordinal);
        File.Delete(tokenFile);
    }

    [Fact]
    public async Task Compose_leaves_the_org_and_bucket_to_the_image_and_setup_adds_token_and_mapping()
    {
        await using var server = FakeInflux2.StartSetUp(Admin, "printfarm", "printfarm");

        var (code, output, error) = await RunAsync(server, "--admin-token", Admin);

        Assert.True(code == 0, output + error);
        Assert.Equal(["POST /api/v2/authorizations", "POST /api/v2/dbrps"], server.Creates);
    }

    [Fact]
    public async Task A_set_up_server_without_an_admin_token_or_a_new_one_without_a_user_ends_with_exit_1_and_says_what_to_pass()
    {
        await using (var server = FakeInflux2.StartSetUp(Admin, "printfarm", "printfarm"))
        {
            var (code, _, error) = await RunAsync(server);
            Assert.Equal(1, code);
            Assert.Contains("is set up already: pass --admin-token (or INFLUX_TOKEN)", error, StringComparison.Ordinal);
            Assert.Empty(server.Creates);

            (code, _, error) = await RunAsync(server, "--admin-token", "wrong");
            Assert.Equal(1, code);
            Assert.Contains("answered 401", error, StringComparison.Ordinal);
        }

        await using (var server = FakeInflux2.Start())
        {
            var (code, _, error) = await RunAsync(server);
            Assert.Equal(1, code);
            Assert.Contains("is not set up yet: pass --username and --password", error, StringComparison.Ordinal);
            Assert.Empty(server.Creates);
        }
    }

    [Fact]
    public async Task A_database_name_mapped_to_another_bucket_is_an_error_not_a_second_mapping()
    {
        await using var server = FakeInflux2.StartSetUp(Admin, "printfarm", "printfarm");
        var org = (string)server.Orgs[0]["id"]!;
        var other = server.AddBucket("legacy", org);
        server.AddDbrp("printfarm", "autogen", (string)other["id"]!, org);

        var (code, _, error) = await RunAsync(server, "--admin-token", Admin);

        Assert.Equal(1, code);
        Assert.Contains("InfluxQL database 'printfarm/autogen' is mapped to another bucket", error, StringComparison.Ordinal);
        Assert.DoesNotContain("POST /api/v2/dbrps", server.Creates);
    }

    [Fact]
    public async Task An_unreachable_server_ends_with_exit_1_and_one_line()
    {
        string url;
        await using (var server = FakeInflux2.Start())
        {
            url = server.Url;
        }

        var command = SetupCommand.Parse(["--url", url, "--admin-token", Admin], _ => null);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(1, await command.RunAsync(output, error, CancellationToken.None));
        Assert.True(error.ToString().StartsWith($"setup: InfluxDB at {url} is unreachable", StringComparison.Ordinal), error.ToString());
    }

    [Fact]
    public void Settings_default_to_the_workers_environment_and_bad_options_are_refused()
    {
        var env = new Dictionary<string, string> { ["PrintFarm__Influx__Url"] = "http://influx:8086/", ["PrintFarm__Influx__Org"] = "acme", ["PrintFarm__Influx__Bucket"] = "farm", ["INFLUX_TOKEN"] = "t" };
        var command = SetupCommand.Parse([], name => env.GetValueOrDefault(name));
        Assert.Equal(("http://influx:8086", "acme", "farm", "farm", "t"), (command.Options.Url, command.Options.Org, command.Options.Bucket, command.Options.DatabaseName, command.Options.AdminToken));
        Assert.Throws<FormatException>(() => SetupCommand.Parse(["--retention", "soon"], _ => null));
        Assert.Throws<FormatException>(() => SetupCommand.Parse(["--bogus"], _ => null));
        Assert.Throws<FormatException>(() => SetupCommand.Parse(["--url", "influx:8086"], _ => null));
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(FakeInflux2 server, params string[] args)
    {
        var command = SetupCommand.Parse(["--url", server.Url, .. args], _ => null);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await command.RunAsync(output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }
}
