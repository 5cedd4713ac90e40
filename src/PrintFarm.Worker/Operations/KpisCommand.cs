using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Kpis;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Reporting;

namespace PrintFarm.Worker.Operations;

/// <summary>What <c>kpis</c> was asked for.</summary>
internal sealed record KpisArguments(IReadOnlyList<string> Windows, TimeSpan Since, string Scope, bool Csv, IReadOnlyList<string> ConfigurationArgs);

/// <summary>
/// <c>kpis</c>: reads the farm's <c>kpi</c> points back from InfluxDB with InfluxQL and prints the demo's KPI table
/// (or CSV with <c>--csv</c>), for cron jobs and e-mails. Exit codes: 0 printed (also when no window has KPIs yet),
/// 1 the database is unreachable or refused the query, 2 invalid configuration, 64 bad arguments.
/// </summary>
internal static class KpisCommand
{
    /// <summary>The command's name, the first argument.</summary>
    public const string Name = "kpis";

    /// <summary>Exit code of a query that failed (unreachable, refused, error answer).</summary>
    public const int QueryFailed = 1;

    /// <summary>Exit code of bad arguments (BSD <c>EX_USAGE</c>).</summary>
    public const int BadArguments = 64;

    private static readonly string[] Scopes = ["farm", "printer", "toy", "material"];

    public const string Usage = """
usage: PrintFarm.Worker kpis [--window 1h|1d|...] [--since 24h] [--scope farm|printer|toy|material] [--csv]
                             [--PrintFarm:Key=value ...]     (from a checkout: ./build.sh run kpis ...)
Reads the farm's KPIs back from InfluxDB (InfluxQL /query: 1.x, 2.x with a DBRP mapping, 3.x) with the worker's
settings (PrintFarm:Influx:*, PrintFarm:Farm) and prints the KPI table of the demo; --csv prints CSV.
  --window W   only windows of this size (repeatable; default: every size of PrintFarm:Windows)
  --since D    windows overlapping the last D: 30m, 24h, 7d or a time span (default 24h)
  --scope S    farm (default), printer, toy or material: one row per subject and window
  --csv        CSV (window,start,scope,subject and every kpi field) instead of the table
Exit codes: 0 printed, 1 database unreachable or query refused, 2 invalid configuration, 64 bad arguments.
""";

    /// <summary>True when <paramref name="args"/> names this command.</summary>
    public static bool IsCommand(IReadOnlyList<string> args) => args is [Name, ..];

    /// <summary>Parses the arguments after <c>kpis</c>; what starts with <c>--PrintFarm:</c> (or holds <c>=</c>) is configuration.</summary>
    /// <exception cref="FormatException">An unknown option or a bad value.</exception>
    public static KpisArguments Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var windows = new List<string>();
        var since = TimeSpan.FromHours(24);
        var scope = "farm";
        var csv = false;
        var configuration = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{a} needs a value");
            switch (a)
            {
                case "--window":
                    var w = Value();
                    windows.Add(WindowSpec.TryParse(w, out var spec) ? spec!.Name : throw new FormatException($"--window '{w}' is not a window size: use {WindowSpec.Grammar}"));
                    break;
                case "--since":
                    var s = Value();
                    since = ParseDuration(s) ?? throw new FormatException($"--since '{s}' is not a duration: use a number and s, m, h or d (30m, 24h, 7d) or a time span (1.00:00:00)");
                    break;
                case "--scope":
                    scope = Value();
                    if (!Scopes.Contains(scope, StringComparer.Ordinal))
                    {
                        throw new FormatException($"--scope '{scope}' is not a scope: use {string.Join(", ", Scopes)}");
                    }

                    break;
                case "--csv":
                    csv = true;
                    break;
                default:
                    if (TakeConfiguration(args, ref i, configuration))
                    {
                        break;
                    }

                    throw new FormatException($"unknown option '{a}'");
            }
        }

        return new KpisArguments(windows, since, scope, csv, configuration);
    }

    /// <summary>Registers the query client on the writer's HTTP settings (TLS, CA file, client certificate).</summary>
    public static IServiceCollection AddKpiQuery(this IServiceCollection services)
    {
        services.AddHttpClient<KpiQueryClient>()
            .ConfigurePrimaryHttpMessageHandler(sp => InfluxTls.CreateHandler(sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value.Influx));
        return services;
    }

    /// <summary>Queries and prints; returns the exit code. Errors go to <paramref name="error"/> as one line.</summary>
    public static async Task<int> RunAsync(IServiceProvider services, KpisArguments arguments, TextWriter output, TextWriter error, bool terminal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        PrintFarmOptionsValidator.TryTimeZone(options.TimeZone, out var zone);
        var names = arguments.Windows.Count > 0 ? arguments.Windows : options.Windows;
        var windows = names.Select(w => WindowSpec.Parse(w, zone)).DistinctBy(w => w.Name).ToList();
        var client = services.GetRequiredService<KpiQueryClient>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        IReadOnlyList<KpiRow> rows;
        try
        {
            rows = await client.QueryAsync(arguments.Scope, windows, now - arguments.Since, now, cancellationToken).ConfigureAwait(false);
        }
        catch (KpiQueryException ex)
        {
            await error.WriteLineAsync($"kpis: {ex.Message}").ConfigureAwait(false);
            return QueryFailed;
        }

        if (arguments.Csv)
        {
            KpiTable.WriteCsv(output, rows);
        }
        else
        {
            var title = string.Create(CultureInfo.InvariantCulture, $"Farm KPIs of {options.Farm}, {arguments.Scope} scope, last {Describe(arguments.Since)} (until {now:yyyy-MM-dd HH:mm} UTC)");
            KpiTable.Write(output, KpiTable.Build(title, rows, subjectHeading: arguments.Scope == "farm" ? null : arguments.Scope), terminal);
        }

        if (rows.Count == 0)
        {
            await error.WriteLineAsync($"kpis: no {string.Join("/", windows.Select(w => w.Name))} KPIs of farm '{options.Farm}' ({arguments.Scope} scope) in the last {Describe(arguments.Since)} in database '{client.Database}' at {client.Server}").ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary><c>30m</c>, <c>24h</c>, <c>7d</c>, <c>90s</c> or a <see cref="TimeSpan"/>; null when neither.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Length >= 2 && double.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            TimeSpan? span = char.ToLowerInvariant(t[^1]) switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
            if (span is not null)
            {
                return span;
            }
        }

        return TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out var ts) && ts > TimeSpan.Zero ? ts : null;
    }

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 2 && span.TotalDays == Math.Floor(span.TotalDays) ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalDays} d")
        : span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours) ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours} h")
        : span.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>
    /// A <c>--PrintFarm:…</c> or <c>--Serilog:…</c> setting among a command's own arguments (with its value, as one
    /// <c>--Key=value</c> or two arguments): moved to <paramref name="configuration"/>, and true. Used by every command.
    /// </summary>
    internal static bool TakeConfiguration(IReadOnlyList<string> args, ref int i, List<string> configuration)
    {
        var a = args[i];
        if (!a.StartsWith("--PrintFarm:", StringComparison.OrdinalIgnoreCase) && !a.StartsWith("--Serilog:", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        configuration.Add(a);
        if (!a.Contains('=', StringComparison.Ordinal) && i + 1 < args.Count)
        {
            configuration.Add(args[++i]);
        }

        return true;
    }
}
