using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Import;
using PrintFarm.Worker.Operations;
using Serilog;

if (StartupInfo.IsHelp(args) && KpisCommand.IsCommand(args))
{
    Console.WriteLine(KpisCommand.Usage);
    return 0;
}

if (StartupInfo.IsHelp(args) && ImportCommand.IsCommand(args))
{
    Console.WriteLine(ImportCommand.Usage);
    return 0;
}

if (StartupInfo.IsHelp(args))
{
    Console.WriteLine(StartupInfo.Usage);
    return 0;
}

// kpis: reads the KPIs back from the database and prints them (cron jobs, e-mails); its options are not configuration.
KpisArguments? kpis = null;
if (KpisCommand.IsCommand(args))
{
    try
    {
        kpis = KpisCommand.Parse(args[1..]);
    }
    catch (FormatException ex)
    {
        Console.Error.WriteLine($"kpis: {ex.Message}");
        Console.Error.WriteLine(KpisCommand.Usage);
        return KpisCommand.BadArguments;
    }
}

// import: loads history through the processor and exits; it holds the data folder, so never beside a worker.
ImportArguments? import = null;
if (ImportCommand.IsCommand(args))
{
    try
    {
        import = ImportCommand.Parse(args[1..]);
    }
    catch (FormatException ex)
    {
        Console.Error.WriteLine($"import: {ex.Message}");
        Console.Error.WriteLine(ImportCommand.Usage);
        return ImportCommand.BadArguments;
    }
}

Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateBootstrapLogger();
try
{
    // --check-config is a switch, not a configuration key: kept out of the command-line configuration source.
    // The content root is the worker's own folder, so its appsettings.json is read wherever it is started from (a
    // published copy started from another folder, a systemd unit); a relative DataFolder is still the working folder's.
    // --accept-checkpoint-loss stands for one start's PrintFarm:AcceptCheckpointLoss=true (docs/reliability.md).
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
    {
        Args = kpis?.ConfigurationArgs.ToArray() ?? import?.ConfigurationArgs.ToArray() ?? args
            .Where(a => a != "--check-config")
            .Select(a => a == "--accept-checkpoint-loss" ? "--PrintFarm:AcceptCheckpointLoss=true" : a)
            .ToArray(),
        ContentRootPath = AppContext.BaseDirectory,
    });
    builder.Services.AddSerilog((services, logger) => logger
        .ReadFrom.Configuration(builder.Configuration)
        .Enrich.FromLogContext()
        .WriteToPrintFarmConsole(builder.Configuration));
    builder.AddPrintFarmTelemetry();
    if (kpis is not null)
    {
        builder.Services.AddKpiQuery();
    }

    var host = builder.Build();
    if (kpis is not null)
    {
        _ = host.Services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        return await KpisCommand.RunAsync(host.Services, kpis, Console.Out, Console.Error, terminal: !Console.IsOutputRedirected, CancellationToken.None);
    }

    if (import is not null)
    {
        _ = host.Services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        return await ImportCommand.RunAsync(host.Services, import, Console.Out, Console.Error, CancellationToken.None);
    }

    if (args.Contains("--check-config"))
    {
        return PrintFarm.Worker.Operations.ConfigCheck.Run(host.Services, Console.Out);
    }

    // Validate before the host starts its services: a bad setting then ends here, as one line, instead of in the
    // middle of a service's constructor with the host's own "Hosting failed to start" trace.
    _ = host.Services.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
    _ = host.Services.GetRequiredService<DataFolderLock>(); // a second worker on the same folder ends here
    StartupInfo.LogBanner(host);
    await host.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    Log.Fatal("Invalid configuration: {Failures}", string.Join("; ", ex.Failures));
    return 2;
}
catch (Exception ex) when (StartupRefused(ex) is { } refused)
{
    Log.Fatal("Not starting: {Reason}", refused.Message);
    return 2;
}
catch (Exception ex)
{
    Log.Fatal(ex, "PrintFarm Telemetry stopped unexpectedly");
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}

// A hosted service's StartAsync may refuse (the host rethrows it, or wraps several failures in an AggregateException).
static StartupRefusedException? StartupRefused(Exception ex) => ex switch
{
    StartupRefusedException refused => refused,
    AggregateException { InnerExceptions: var inner } => inner.Select(StartupRefused).FirstOrDefault(r => r is not null),
    _ => null,
};
