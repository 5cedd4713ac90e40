using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.Alerts;

/// <summary>Whether an alert is on or off.</summary>
public enum AlertState
{
    /// <summary>The condition holds.</summary>
    Firing,

    /// <summary>The condition no longer holds (past the hysteresis).</summary>
    Resolved,
}

/// <summary>Names of the built-in rules: the <c>rule</c> tag of <c>alert</c> points and a level of the MQTT alert topic.</summary>
public static class AlertRuleNames
{
    /// <summary>Material efficiency fell more than the margin below its baseline.</summary>
    public const string EfficiencyDrop = "efficiency_drop";

    /// <summary>Success rate fell more than the margin below its baseline.</summary>
    public const string SuccessRateDrop = "success_rate_drop";

    /// <summary>Average print time per toy rose more than the margin above its baseline.</summary>
    public const string PrintTimeRise = "print_time_per_toy_rise";

    /// <summary>Material efficiency below the critical level (60 %).</summary>
    public const string EfficiencyCritical = "efficiency_below_critical";

    /// <summary>Material efficiency below the warning level (70 %).</summary>
    public const string EfficiencyWarning = "efficiency_below_warning";

    /// <summary>A printer with an open job stopped sending anything.</summary>
    public const string StoppedReporting = "printer_stopped_reporting";
}

/// <summary>
/// An alert changing state: fired or resolved. <see cref="At"/> is an event time (the end of the window range judged,
/// or the receive time that revealed a silent printer), so the same messages give the same transitions.
/// </summary>
/// <param name="Rule">Rule name (<see cref="AlertRuleNames"/>).</param>
/// <param name="Scope">Scope judged.</param>
/// <param name="Subject">Printer, toy or material; empty for the farm.</param>
/// <param name="State">New state.</param>
/// <param name="At">When, in event time.</param>
/// <param name="Value">The judged value: a ratio 0–1 (efficiency, success rate), seconds (print time per toy) or minutes of silence.</param>
/// <param name="Baseline">The baseline's value in the same unit, for the drop rules.</param>
/// <param name="Threshold">The line the value was compared with, in the same unit.</param>
/// <param name="Message">One sentence for people.</param>
public sealed record AlertTransition(string Rule, KpiScope Scope, string Subject, AlertState State, DateTimeOffset At, double? Value, double? Baseline, double? Threshold, string Message)
{
    /// <summary>The <c>state</c> tag value: <c>firing</c> or <c>resolved</c>.</summary>
    public string StateName => State == AlertState.Firing ? "firing" : "resolved";
}
