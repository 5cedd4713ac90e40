using PrintFarm.Core.Ingestion.Maintenance;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Printer time accounting and OEE (<c>PrintFarm:Oee</c>): time in each state per window (<c>printer_time</c>), OEE fields
/// on <c>kpi</c>, and the operator's maintenance topic. A printer counts as offline after
/// <c>PrintFarm:Alerts:Rules:StoppedReportingAfter</c> without a message.
/// </summary>
public sealed class OeeOptions
{
    /// <summary>Account printer time and compute OEE. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Topic pattern of the maintenance switch, with a <c>{printer}</c> level. Default <c>printfarm/maintenance/{printer}</c>.</summary>
    public string MaintenanceTopic { get; set; } = MaintenanceAdapter.DefaultTopic;

    /// <summary>
    /// Declared off-shift time, in the farm's time zone (<c>PrintFarm:TimeZone</c>), left out of planned time: for example
    /// <c>Mon-Fri 22:00-06:00; Sat-Sun 00:00-24:00</c>. Default empty: every hour is planned.
    /// </summary>
    public string OffShift { get; set; } = string.Empty;
}

/// <summary>Checks <c>PrintFarm:Oee</c>; called by <see cref="PrintFarmOptionsValidator"/>.</summary>
internal static class OeeOptionsValidator
{
    public static void Validate(PrintFarmOptions o, List<string> errors)
    {
        var oee = o.Oee;
        if (!oee.Enabled)
        {
            return;
        }

        PrintFarmOptionsValidator.TryTimeZone(o.TimeZone, out var zone);
        if (!OffShiftSchedule.TryParse(oee.OffShift, zone, out _, out var problem))
        {
            errors.Add($"{PrintFarmOptions.SectionName}:Oee:OffShift {problem}");
        }

        try
        {
            if (!new Core.Ingestion.TopicPattern(oee.MaintenanceTopic).SubscriptionFilter.Contains('+', StringComparison.Ordinal))
            {
                errors.Add($"{PrintFarmOptions.SectionName}:Oee:MaintenanceTopic must have a {{printer}} level, not '{oee.MaintenanceTopic}'");
            }
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{PrintFarmOptions.SectionName}:Oee:MaintenanceTopic must be a topic pattern with a {{printer}} level ({ex.Message})");
        }
    }
}
