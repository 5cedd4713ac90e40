using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Hosting;
using Serilog;

Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateBootstrapLogger();
try
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.Services.AddSerilog((services, logger) => logger
        .ReadFrom.Configuration(builder.Configuration)
        .Enrich.FromLogContext()
        .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture));
    builder.AddPrintFarmTelemetry();
    await builder.Build().RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    Log.Fatal("Invalid configuration: {Failures}", string.Join("; ", ex.Failures));
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
