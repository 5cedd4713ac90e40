using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Alerts;

/// <summary>
/// Rules and thresholds of the built-in alerts (<c>PrintFarm:Alerts:Rules</c>). Margins are in percentage points
/// (efficiency, success rate) or percent (print time per toy); every rule judges a <i>recent</i> range of closed
/// windows against the <i>baseline</i> range just before it, each computed from the summed window components.
/// </summary>
public sealed class AlertRuleOptions
{
    /// <summary>Whether the worker evaluates the built-in rules at all. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>KPI window size the rules read; must be one of <c>PrintFarm:Windows</c> and shorter than a day. Default <c>1h</c>.</summary>
    public string Window { get; set; } = "1h";

    /// <summary>Recent range: this many closed windows, ending at the newest closed one, are judged. Default 3 h.</summary>
    public TimeSpan RecentRange { get; set; } = TimeSpan.FromHours(3);

    /// <summary>Baseline range: the windows just before the recent range, the "normal" the recent range is compared with. Default 7 days.</summary>
    public TimeSpan BaselineRange { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Minimum jobs ended in the recent range before any rule judges a subject. Default 3.</summary>
    public long MinJobs { get; set; } = 3;

    /// <summary>Minimum filament (grams, known filament only) in the recent range before the efficiency rules judge a subject. Default 50 g.</summary>
    public double MinFilamentGrams { get; set; } = 50;

    /// <summary>Minimum jobs ended in the baseline range before a drop rule compares with it. Default 10.</summary>
    public long BaselineMinJobs { get; set; } = 10;

    /// <summary>Minimum filament (grams) in the baseline range before the efficiency drop rule compares with it. Default 200 g.</summary>
    public double BaselineMinFilamentGrams { get; set; } = 200;

    /// <summary>
    /// <c>efficiency_drop</c> fires when the recent material efficiency is more than this many percentage points below
    /// the baseline's. Default 15 (points).
    /// </summary>
    public double EfficiencyDropPoints { get; set; } = 15;

    /// <summary><c>success_rate_drop</c> fires when the recent success rate is more than this many percentage points below the baseline's. Default 15 (points).</summary>
    public double SuccessRateDropPoints { get; set; } = 15;

    /// <summary>
    /// Hysteresis of the efficiency and success-rate rules: a firing alert resolves only once the value is this many
    /// points above the line it fired below, so a value hovering at the line does not flap. Default 5 (points).
    /// </summary>
    public double HysteresisPoints { get; set; } = 5;

    /// <summary><c>print_time_per_toy_rise</c> fires when the recent average print time per toy exceeds the baseline's by more than this. Default 25 (%).</summary>
    public double PrintTimeRisePercent { get; set; } = 25;

    /// <summary>Hysteresis of <c>print_time_per_toy_rise</c>: it resolves only once the rise is this many percent below the firing line. Default 10 (%).</summary>
    public double PrintTimeHysteresisPercent { get; set; } = 10;

    /// <summary><c>efficiency_below_critical</c> fires when the recent material efficiency is below this fixed level. Default 60 (%).</summary>
    public double EfficiencyCriticalPercent { get; set; } = 60;

    /// <summary><c>efficiency_below_warning</c> fires when the recent material efficiency is below this fixed level. Default 70 (%).</summary>
    public double EfficiencyWarningPercent { get; set; } = 70;

    /// <summary>Scopes the drop rules judge. Empty means the default: farm, printer, toy and material.</summary>
    public List<KpiScope> DropScopes { get; set; } = [];

    /// <summary>Scopes the fixed-threshold rules judge. Empty means the default: farm only (as the Grafana rules).</summary>
    public List<KpiScope> ThresholdScopes { get; set; } = [];

    /// <summary>
    /// <c>printer_stopped_reporting</c> fires when a printer with an open job has sent nothing for this long, measured
    /// on receive times against the newest message of any printer. Zero disables the rule. Default 15 min.
    /// </summary>
    public TimeSpan StoppedReportingAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The drop rules' scopes, the default when none is configured.</summary>
    public IReadOnlyList<KpiScope> EffectiveDropScopes => DropScopes.Count > 0 ? DropScopes : [KpiScope.Farm, KpiScope.Printer, KpiScope.Toy, KpiScope.Material];

    /// <summary>The threshold rules' scopes, the default when none is configured.</summary>
    public IReadOnlyList<KpiScope> EffectiveThresholdScopes => ThresholdScopes.Count > 0 ? ThresholdScopes : [KpiScope.Farm];

    /// <summary>Every problem with these settings, each naming its key (relative to this section) and what is allowed; empty when valid.</summary>
    public IReadOnlyList<string> Validate(IEnumerable<string> configuredWindows)
    {
        ArgumentNullException.ThrowIfNull(configuredWindows);
        var errors = new List<string>();
        void Check(bool ok, string key, string allowed, object? value)
        {
            if (!ok)
            {
                errors.Add($"{key} is '{value}': {allowed}");
            }
        }

        var windows = configuredWindows.Select(w => WindowSpec.TryParse(w, out var s) ? s!.Name : w).ToHashSet(StringComparer.Ordinal);
        var parsed = WindowSpec.TryParse(Window, out var spec);
        Check(parsed && spec!.Size < TimeSpan.FromDays(1) && windows.Contains(spec.Name), "Window", "must be a sub-day window size listed in PrintFarm:Windows (default 1h)", Window);
        var size = parsed ? spec!.Size : TimeSpan.FromHours(1);
        Check(RecentRange >= size && RecentRange.Ticks % size.Ticks == 0 && RecentRange <= TimeSpan.FromDays(7), "RecentRange", $"must be a whole number of windows ({size}) up to 7.00:00:00", RecentRange);
        Check(BaselineRange >= size && BaselineRange.Ticks % size.Ticks == 0 && BaselineRange <= TimeSpan.FromDays(60), "BaselineRange", $"must be a whole number of windows ({size}) up to 60.00:00:00", BaselineRange);
        Check(MinJobs >= 1, "MinJobs", "must be at least 1", MinJobs);
        Check(MinFilamentGrams >= 0, "MinFilamentGrams", "must not be negative (grams)", MinFilamentGrams);
        Check(BaselineMinJobs >= 1, "BaselineMinJobs", "must be at least 1", BaselineMinJobs);
        Check(BaselineMinFilamentGrams >= 0, "BaselineMinFilamentGrams", "must not be negative (grams)", BaselineMinFilamentGrams);
        Check(EfficiencyDropPoints is > 0 and < 100, "EfficiencyDropPoints", "must be between 0 and 100 (percentage points)", EfficiencyDropPoints);
        Check(SuccessRateDropPoints is > 0 and < 100, "SuccessRateDropPoints", "must be between 0 and 100 (percentage points)", SuccessRateDropPoints);
        Check(HysteresisPoints >= 0 && HysteresisPoints < Math.Min(EfficiencyDropPoints, SuccessRateDropPoints), "HysteresisPoints", "must be at least 0 and below both drop margins (percentage points)", HysteresisPoints);
        Check(PrintTimeRisePercent is > 0 and <= 1000, "PrintTimeRisePercent", "must be between 0 and 1000 (%)", PrintTimeRisePercent);
        Check(PrintTimeHysteresisPercent >= 0 && PrintTimeHysteresisPercent < PrintTimeRisePercent, "PrintTimeHysteresisPercent", "must be at least 0 and below PrintTimeRisePercent (%)", PrintTimeHysteresisPercent);
        Check(EfficiencyCriticalPercent is >= 0 and <= 100, "EfficiencyCriticalPercent", "must be between 0 and 100 (%)", EfficiencyCriticalPercent);
        Check(EfficiencyWarningPercent is >= 0 and <= 100 && EfficiencyWarningPercent >= EfficiencyCriticalPercent, "EfficiencyWarningPercent", "must be between EfficiencyCriticalPercent and 100 (%)", EfficiencyWarningPercent);
        Check(StoppedReportingAfter >= TimeSpan.Zero, "StoppedReportingAfter", "must not be negative (00:00:00 disables the rule)", StoppedReportingAfter);
        return errors;
    }
}
