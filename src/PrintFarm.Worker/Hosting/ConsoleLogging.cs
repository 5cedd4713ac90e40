using System.Globalization;
using Microsoft.Extensions.Configuration;
using PrintFarm.Worker.Configuration;
using Serilog;
using Serilog.Formatting.Compact;

namespace PrintFarm.Worker.Hosting;

/// <summary>The console sink: human-readable text, or Serilog compact JSON (<c>PrintFarm:LogFormat = json</c>) for log shippers.</summary>
public static class ConsoleLogging
{
    /// <summary>Adds the console sink in the format <c>PrintFarm:LogFormat</c> names.</summary>
    public static LoggerConfiguration WriteToPrintFarmConsole(this LoggerConfiguration logger, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(configuration);
        var format = configuration[$"{PrintFarmOptions.SectionName}:{nameof(PrintFarmOptions.LogFormat)}"];
        return string.Equals(format, "json", StringComparison.OrdinalIgnoreCase)
            ? logger.WriteTo.Console(new CompactJsonFormatter())
            : logger.WriteTo.Console(formatProvider: CultureInfo.InvariantCulture);
    }
}
