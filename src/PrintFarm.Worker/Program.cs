using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Hosting;
using Serilog;

if (StartupInfo.IsHelp(args))
{
    Console.WriteLine(StartupInfo.Usage);
    return 0;
}

Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateBootstrapLogger();
try
{
    // --check-config is a switch, not a configuration key: kept out of the command-line configuration source.
    // So is --accept-checkpoint-loss, which stands for one start's PrintFarm:AcceptCheckpointLoss=true (docs/reliability.md).
    var builder = Host.CreateApplicationBuilder(args
        .Where(a => a != "--check-config")
        .Select(a => a == "--accept-checkpoint-loss" ? "--PrintFarm:AcceptCheckpointLoss=true" : a)
        .ToArray());
    builder.Services.AddSerilog((services, logger) => logger
        .ReadFrom.Configuration(builder.Configuration)
        .Enrich.FromLogContext()
        .WriteToPrintFarmConsole(builder.Configuration));
    builder.AddPrintFarmTelemetry();
    var host = builder.Build();
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
