using System.Globalization;
using InfluxDB.Client.Core.Exceptions;

namespace PrintFarm.Setup;

/// <summary>The <c>setup</c> command line: options, environment defaults, output and exit codes.</summary>
internal sealed record SetupCommand(SetupOptions Options, string? TokenFile, bool Help)
{
    /// <summary>Exit code of bad arguments (BSD <c>EX_USAGE</c>).</summary>
    public const int BadArguments = 64;

    /// <summary>Exit code of a setup that failed (unreachable, refused, conflicting mapping).</summary>
    public const int Failed = 1;

    public const string Usage = """
usage: ./build.sh setup [options]      (or: dotnet run --project src/PrintFarm.Setup -- [options])
Makes an InfluxDB 2.x ready for the worker and the InfluxQL board; safe to run again (what exists is kept):
onboarding of a new server, the org, the bucket, a read/write token for the bucket, and the DBRP mapping that
lets InfluxQL (Grafana, the worker's kpis command) read the bucket as a database.
  --url URL              the server (default $PrintFarm__Influx__Url, else http://localhost:8086)
  --org NAME             organisation (default $PrintFarm__Influx__Org, else printfarm)
  --bucket NAME          bucket (default $PrintFarm__Influx__Bucket, else printfarm)
  --retention D          bucket retention for a new bucket: 30d, 720h, ... (default: forever)
  --database NAME        InfluxQL database of the DBRP mapping (default: the bucket's name)
  --rp NAME              InfluxQL retention policy of the mapping (default autogen)
  --admin-token TOKEN    an all-access token, needed once the server is set up (default $INFLUX_TOKEN)
  --username NAME        first user of a new server (default $INFLUX_USERNAME)
  --password PASSWORD    its password, 8 characters or more (default $INFLUX_PASSWORD)
  --token-description D  how the worker's token is named and found again (default "printfarm-telemetry worker")
  --token-file PATH      write the worker's token to this file (mode 600) for PrintFarm__Influx__TokenFile
Exit codes: 0 done, 1 failed (message on stderr), 64 bad arguments.
""";

    /// <summary>Parses arguments over environment defaults.</summary>
    /// <exception cref="FormatException">An unknown option or a bad value.</exception>
    public static SetupCommand Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        string? Env(string name) => environment(name) is { Length: > 0 } v ? v : null;
        var url = Env("PrintFarm__Influx__Url") ?? "http://localhost:8086";
        var org = Env("PrintFarm__Influx__Org") ?? "printfarm";
        var bucket = Env("PrintFarm__Influx__Bucket") ?? "printfarm";
        var retention = TimeSpan.Zero;
        string? database = null;
        var rp = "autogen";
        var adminToken = Env("INFLUX_TOKEN");
        var username = Env("INFLUX_USERNAME");
        var password = Env("INFLUX_PASSWORD");
        var description = "printfarm-telemetry worker";
        string? tokenFile = null;
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{a} needs a value");
            switch (a)
            {
                case "--url": url = Value(); break;
                case "--org": org = Value(); break;
                case "--bucket": bucket = Value(); break;
                case "--retention":
                    var r = Value();
                    retention = ParseDuration(r) ?? throw new FormatException($"--retention '{r}' is not a duration: use a number and h or d (720h, 30d)");
                    break;
                case "--database": database = Value(); break;
                case "--rp": rp = Value(); break;
                case "--admin-token": adminToken = Value(); break;
                case "--username": username = Value(); break;
                case "--password": password = Value(); break;
                case "--token-description": description = Value(); break;
                case "--token-file": tokenFile = Value(); break;
                case "--help" or "-h": help = true; break;
                default: throw new FormatException($"unknown option '{a}'");
            }
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new FormatException($"--url '{url}' is not an http(s) URL");
        }

        return new SetupCommand(
            new SetupOptions
            {
                Url = url.TrimEnd('/'),
                Org = org,
                Bucket = bucket,
                Retention = retention,
                Database = database,
                RetentionPolicy = rp,
                AdminToken = adminToken,
                Username = username,
                Password = password,
                TokenDescription = description,
            },
            tokenFile,
            help);
    }

    /// <summary>Runs the setup, prints each step and the worker's settings; returns the exit code.</summary>
    public async Task<int> RunAsync(TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        SetupResult result;
        try
        {
            result = await InfluxSetup.RunAsync(Options, cancellationToken).ConfigureAwait(false);
        }
        catch (SetupException ex)
        {
            await error.WriteLineAsync($"setup: {ex.Message}").ConfigureAwait(false);
            return Failed;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"setup: InfluxDB at {Options.Url} is unreachable: {ex.Message}").ConfigureAwait(false);
            return Failed;
        }
        catch (HttpException ex) when (ex.Status == 0)
        {
            // The client reports a connection that never got an answer as status 0.
            await error.WriteLineAsync($"setup: InfluxDB at {Options.Url} is unreachable: {ex.Message}").ConfigureAwait(false);
            return Failed;
        }
        catch (HttpException ex)
        {
            await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"setup: InfluxDB at {Options.Url} answered {ex.Status}: {ex.Message}{(ex.Status is 401 or 403 ? " (the admin token is wrong or may not manage this org)" : string.Empty)}")).ConfigureAwait(false);
            return Failed;
        }

        foreach (var step in result.Steps)
        {
            await output.WriteLineAsync($"setup: {step}").ConfigureAwait(false);
        }

        if (result.OnboardedAdminToken is { } admin)
        {
            await output.WriteLineAsync($"setup: the first user's all-access token (keep it; pass it as --admin-token next time): {admin}").ConfigureAwait(false);
        }

        var tokenSetting = "PrintFarm__Influx__Token=<the token>";
        if (result.WriteToken is { } token)
        {
            if (TokenFile is not null)
            {
                await File.WriteAllTextAsync(TokenFile, token + "\n", cancellationToken).ConfigureAwait(false);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(TokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                tokenSetting = $"PrintFarm__Influx__TokenFile={Path.GetFullPath(TokenFile)}";
            }
            else
            {
                tokenSetting = $"PrintFarm__Influx__Token={token}";
            }
        }
        else
        {
            await output.WriteLineAsync("setup: the server does not show the existing token's value (token hashing): use the token saved when it was created, or delete it and run setup again").ConfigureAwait(false);
        }

        await output.WriteLineAsync($"setup: worker settings: PrintFarm__Influx__Url={Options.Url} PrintFarm__Influx__ApiVersion=v2 PrintFarm__Influx__Org={Options.Org} PrintFarm__Influx__Bucket={Options.Bucket} {tokenSetting}").ConfigureAwait(false);
        await output.WriteLineAsync($"setup: InfluxQL (Grafana INFLUX_DATABASE, kpis): database {Options.DatabaseName}, retention policy {Options.RetentionPolicy}").ConfigureAwait(false);
        await output.WriteLineAsync(result.Created ? "setup: done" : "setup: nothing to do, everything exists").ConfigureAwait(false);
        return 0;
    }

    private static TimeSpan? ParseDuration(string text)
    {
        var t = text.Trim();
        if (t.Length >= 2 && long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            return char.ToLowerInvariant(t[^1]) switch
            {
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
        }

        return null;
    }
}
