using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Hosting;

/// <summary>What the worker says before it starts: <c>--help</c>, and a banner of the settings in force.</summary>
internal static class StartupInfo
{
    /// <summary>The usage text of <c>--help</c>.</summary>
    public const string Usage = """
PrintFarm Telemetry worker: reads 3D-printer MQTT telemetry (OctoPrint, Moonraker, Bambu, native), tracks jobs,
computes farm KPIs in event-time windows and writes them to InfluxDB.

usage: PrintFarm.Worker [--PrintFarm:Key=value ...]   run the worker (from a checkout: ./build.sh run)
       PrintFarm.Worker --check-config            print the effective configuration (secrets masked), validate it,
                                                  exit 0 (valid) or 2 (each problem on its own line)
       PrintFarm.Worker --accept-checkpoint-loss  start once from empty state when no checkpoint can be read
                                                  (the worker refuses with exit code 2 otherwise; docs/reliability.md)
       PrintFarm.Worker kpis [--window 1h] [--since 24h] [--scope farm] [--csv]   print the KPIs in the database
                                                  and exit (kpis --help)
       PrintFarm.Worker import trace|moonraker|octoprint-csv FILE [--printer ID]   load history (a simulator
                                                  trace, Moonraker job history, PrintJobHistory CSV) into the KPIs
                                                  and exit; run it while the worker is stopped (import --help)
       PrintFarm.Worker --help                    this text (also -h, help)
Related tools from a checkout: ./build.sh setup (make an InfluxDB 2.x ready), ./build.sh demo, ./build.sh sim.
Settings come from appsettings.json, then PrintFarm__* environment variables (or --PrintFarm:Key=value). Main ones:
  PrintFarm__Mqtt__Host / __Port / __Username / __Password     the broker (default localhost:1883)
  PrintFarm__Mqtt__EmbeddedBroker__Enabled=true, __Port=1883     run a broker inside the worker instead
  PrintFarm__Influx__Url, __ApiVersion (auto|v2|v1), __Token, __Org, __Bucket, __Database   the database
  PrintFarm__Farm                    the farm tag (default: default)
  PrintFarm__Windows__0=1h, __1=1d   KPI window sizes; PrintFarm__TimeZone for whole-day windows
  PrintFarm__DataFolder              checkpoint, spool, dead letters (default ~/.local/state/printfarm)
Every setting, its unit and default: docs/operations.md; printers: docs/printers.md.
""";

    /// <summary>True when <paramref name="args"/> asks for help.</summary>
    public static bool IsHelp(IEnumerable<string> args) => args?.Any(a => a is "--help" or "-h" or "-?" or "help") == true;

    /// <summary>Logs one banner line: version, broker, database, farm, windows, data folder.</summary>
    public static void LogBanner(IHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var o = host.Services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        var folders = host.Services.GetRequiredService<DataFolders>();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PrintFarm.Worker");
        var version = typeof(StartupInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        var broker = o.Cluster.Enabled
            ? $"none: clustered mode, JetStream stream {o.Cluster.Stream} on {SecretMasking.Text(o.Cluster.Url)}"
            : o.Mqtt.EmbeddedBroker.Enabled
            ? $"embedded on port {o.Mqtt.EmbeddedBroker.Port}"
            : $"{(o.Mqtt.UseTls ? "mqtts" : "mqtt")}://{o.Mqtt.Host}:{o.Mqtt.Port}";
        var url = SecretMasking.Text(o.Influx.Url);
        var database = o.Influx.IsV1
            ? $"{url} (v1, database {o.Influx.Database})"
            : o.Influx.IsV2
                ? $"{url} (v2, bucket {o.Influx.Bucket}, org {o.Influx.Org})"
                : $"{url} (API from /ping: v1 database {o.Influx.Database ?? o.Influx.Bucket}, or v2 bucket {o.Influx.Bucket ?? o.Influx.Database}, org {o.Influx.Org})";
        Log.Banner(logger, version, broker, database, o.Farm, string.Join(",", o.Windows), o.TimeZone, folders.Root);
    }
}
