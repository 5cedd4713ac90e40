using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Kpis;

namespace PrintFarm.Core.LineProtocol;

/// <summary>
/// Encodes the measurements of the data contract (<c>docs/data-model.md</c>): <c>job</c>, <c>kpi</c>,
/// <c>printer</c> and <c>alert</c>. Tags are written in key order (InfluxDB's preferred order). Field types never vary between
/// writes: counts are always integers, measures always floats.
/// </summary>
public sealed class PointEncoder
{
    private readonly LineBuilder _line = new();
    private readonly string _farm;

    /// <summary>Creates an encoder that tags every point with <paramref name="farm"/>.</summary>
    public PointEncoder(string farm)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(farm);
        _farm = farm;
    }

    /// <summary>
    /// Clustered mode: the partition this encoder's processor reads. Its farm-, toy- and material-scope <c>kpi</c>
    /// points and its farm <c>printer_time</c> points then carry a <c>partition</c> tag, because those windows span
    /// partitions and each partition writes only its share (its partial sums); without the tag the partitions would
    /// overwrite each other's point on the same series and timestamp. Queries add the partials up
    /// (<c>docs/data-model.md</c>, "Partitions"). Printer scope is whole in one partition and is never tagged.
    /// Default none: single-machine mode, no tag.
    /// </summary>
    public int? Partition { get; init; }

    private string? PartitionTag => Partition is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>The <c>job</c> point of an ended job, at its end time.</summary>
    public string Job(EndedJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return _line.Measurement(Measurements.Job)
            .Tag("farm", _farm)
            .Tag("material", job.Material)
            .Tag("outcome", OutcomeName(job.Outcome))
            .Tag("printer", job.Printer)
            .Tag("source", job.Source)
            .Tag("toy", job.Toy)
            .Field("job_id", job.JobId)
            .Field("file", job.File)
            .Field("print_time_s", job.PrintTimeSeconds)
            .Field("toys", (long)job.Quantity)
            .Field("print_time_per_toy_s", job.Outcome == JobOutcome.Completed ? job.PrintTimeSeconds / job.Quantity : null)
            .Field("filament_g", job.HasFilament ? job.FilamentGrams : null)
            .Field("filament_mm", job.FilamentMillimetres)
            .Field("filament_source", FilamentSourceName(job.FilamentSource))
            .Field("estimated_time_s", job.EstimatedTimeSeconds)
            .Field("estimate_ratio", job.Outcome == JobOutcome.Completed && job.EstimatedTimeSeconds is > 0 ? job.PrintTimeSeconds / job.EstimatedTimeSeconds : null)
            .Field("material_cost", job.MaterialCost)
            .Field("reason", job.Reason is { } reason ? Jobs.FailureReasons.Name(reason) : null)
            .Field("reason_detail", job.ReasonDetail)
            .Field("reason_source", job.ReasonSource)
            .Build(job.End);
    }

    /// <summary>
    /// A job's metered energy and landed cost on its <c>job</c> point (same tags and time, so InfluxDB merges them into
    /// it): <c>energy_kwh</c> (when metered) and <c>cost</c>.
    /// </summary>
    public string JobCost(in Cost.JobCost cost)
    {
        var job = cost.Job;
        return _line.Measurement(Measurements.Job)
            .Tag("farm", _farm)
            .Tag("material", job.Material)
            .Tag("outcome", OutcomeName(job.Outcome))
            .Tag("printer", job.Printer)
            .Tag("source", job.Source)
            .Tag("toy", job.Toy)
            .Field("energy_kwh", cost.Kwh)
            .Field("cost", cost.Parts.Total)
            .Build(job.End);
    }

    /// <summary>
    /// The landed-cost fields of one window on its <c>kpi</c> series (same tags and time as <see cref="Kpi"/>, so InfluxDB
    /// merges them): energy, cost per toy and its parts per toy, the window's total cost.
    /// </summary>
    public string CostKpi(in Cost.CostPoint point)
    {
        var t = point.Totals;

        // The same series as the window's kpi line, so InfluxDB merges the two into one point. Raw sums first (added
        // across partitions by the board), then the per-toy ratios of this one point.
        return KpiTags(point.Scope, point.Subject, point.Window)
            .Field("cost_material", t.Material)
            .Field("cost_energy", t.Energy)
            .Field("cost_machine", t.Machine)
            .Field("cost_labour", t.Labour)
            .Field("energy_kwh", t.JobKwh + t.IdleKwh)
            .Field("job_energy_kwh", t.JobKwh)
            .Field("idle_energy_kwh", point.Scope is KpiScope.Farm or KpiScope.Printer ? t.IdleKwh : null)
            .Field("energy_per_toy_kwh", Cost.LandedCost.KwhPerToy(t))
            .Field("cost_total", t.Total)
            .Field("cost_per_toy", Cost.LandedCost.PerToy(t))
            .Field("cost_material_per_toy", Cost.LandedCost.PartPerToy(t.Material, t))
            .Field("cost_energy_per_toy", Cost.LandedCost.PartPerToy(t.Energy, t))
            .Field("cost_machine_per_toy", Cost.LandedCost.PartPerToy(t.Machine, t))
            .Field("cost_labour_per_toy", Cost.LandedCost.PartPerToy(t.Labour, t))
            .Build(point.WindowStart);
    }

    // A kpi series' tags in key order: farm, material or printer, partition (all scopes but printer), scope, toy, window.
    private LineBuilder KpiTags(KpiScope scope, string subject, WindowSpec window)
    {
        _line.Measurement(Measurements.Kpi).Tag("farm", _farm);
        switch (scope)
        {
            case KpiScope.Material: _line.Tag("material", subject); break;
            case KpiScope.Printer: _line.Tag("printer", subject); break;
        }

        if (scope != KpiScope.Printer)
        {
            _line.Tag("partition", PartitionTag);
        }

        _line.Tag("scope", ScopeName(scope));
        if (scope == KpiScope.Toy)
        {
            _line.Tag("toy", subject);
        }

        return _line.Tag("window", window.Name);
    }

    /// <summary>The <c>kpi</c> point of one window × scope × subject, at the window start.</summary>
    public string Kpi(in KpiPoint point) => KpiFields(point).Build(point.WindowStart);

    /// <summary>
    /// The <c>kpi</c> point of a printer or farm window with the OEE fields of <paramref name="timeline"/>, the same
    /// window's timeline point, on the same line: what <see cref="Kpi"/> and <see cref="Oee"/> write as two lines.
    /// </summary>
    public string KpiWithOee(in KpiPoint point, in TimelinePoint timeline) => OeeFields(KpiFields(point), timeline.Times).Build(point.WindowStart);

    private LineBuilder KpiFields(in KpiPoint point)
    {
        var t = point.Totals;
        return KpiTags(point.Scope, point.Subject, point.Window)
            .Field("jobs_completed", t.JobsCompleted)
            .Field("jobs_failed", t.JobsFailed)
            .Field("jobs_cancelled", t.JobsCancelled)
            .Field("toys_completed", t.ToysCompleted)
            .Field("jobs_without_filament", t.JobsWithoutFilament)
            .Field("print_time_s", t.PrintTimeSeconds)
            .Field("avg_print_time_per_toy_s", t.AvgPrintTimePerToySeconds)
            .Field("filament_used_g", t.FilamentUsedGrams)
            .Field("filament_waste_g", t.FilamentWasteGrams)
            .Field("material_efficiency", t.MaterialEfficiency)
            .Field("success_rate", t.SuccessRate)
            .Field("estimate_ratio", t.EstimateRatio)
            .Field("material_cost", t.MaterialCost > 0 ? t.MaterialCost : null)
            .Field("material_cost_per_toy", t.MaterialCostPerToy)
            // The raw sums behind estimate_ratio and the farm's utilization, so that partial points can be added up.
            .Field("estimated_jobs_actual_s", t.EstimateRatio is not null ? t.EstimatedJobsActualSeconds : null)
            .Field("estimated_jobs_estimate_s", t.EstimateRatio is not null ? t.EstimatedJobsEstimateSeconds : null)
            .Field("capacity_s", point.CapacitySeconds)
            .Field("printing_s", point.Scope is KpiScope.Farm or KpiScope.Printer ? t.BusySeconds : null)
            .Field("utilization", point.Utilization)
            .Field("printers_seen", point.Scope == KpiScope.Farm ? (long?)t.PrintersSeen : null);
    }

    /// <summary>
    /// The <c>printer_time</c> point of one window for a printer or the farm, at the window start: seconds in each state
    /// (<c>printing_s</c> … <c>maintenance_s</c>), <c>off_shift_s</c>, <c>planned_s</c> and <c>tracked_s</c>.
    /// </summary>
    public string TimeInState(in TimelinePoint point)
    {
        var t = point.Times;
        TimelineTags(Measurements.PrinterTime, point);
        foreach (var state in TimelineStates)
        {
            _line.FieldSeconds(state.Field, t.TicksIn(state.State));
        }

        return _line.FieldSeconds("off_shift_s", t.OffShiftTotalTicks)
            .FieldSeconds("planned_s", t.PlannedTicks)
            .FieldSeconds("tracked_s", t.TrackedTicks)
            .Build(point.WindowStart);
    }

    /// <summary>
    /// The OEE fields of one window on the <c>kpi</c> series of the same printer or farm (same tags and time, so
    /// InfluxDB merges them into that point): <c>availability</c>, <c>performance</c>, <c>quality</c>, <c>oee</c>.
    /// </summary>
    public string Oee(in TimelinePoint point)
    {
        TimelineTags(Measurements.Kpi, point);
        return OeeFields(_line, point.Times).Build(point.WindowStart);
    }

    private static LineBuilder OeeFields(LineBuilder line, in TimeInState t)
    {
        // Each ratio once (OeeValue would work the three out again).
        var availability = t.Availability;
        var performance = t.Performance;
        var quality = t.Quality;
        return line.Field("availability", availability)
            .Field("performance", performance)
            .Field("quality", quality)
            .Field("oee", Kpis.Oee.Value(availability, performance, quality))
            .Field("toys_started", t.ToysStarted)
            // The raw sums behind the four ratios, so that partial points can be added up (docs/data-model.md).
            .Field("good_toys", t.GoodToys)
            .FieldSeconds("oee_planned_s", t.PlannedTicks)
            .FieldSeconds("oee_printing_s", t.PlannedPrintingTicks)
            .Field("oee_estimate_s", t.EstimateSeconds)
            .Field("oee_actual_s", t.EstimatedJobsActualSeconds);
    }

    private static readonly (PrinterActivity State, string Field)[] TimelineStates =
    [
        (PrinterActivity.Printing, "printing_s"),
        (PrinterActivity.Paused, "paused_s"),
        (PrinterActivity.Preparing, "preparing_s"),
        (PrinterActivity.AwaitingBedClear, "awaiting_bed_clear_s"),
        (PrinterActivity.Idle, "idle_s"),
        (PrinterActivity.Offline, "offline_s"),
        (PrinterActivity.Error, "error_s"),
        (PrinterActivity.Maintenance, "maintenance_s"),
    ];

    // The kpi point's own tags for the farm and printer scopes (farm, partition or printer, scope, window in key order).
    private void TimelineTags(string measurement, in TimelinePoint point)
    {
        _line.Measurement(measurement).Tag("farm", _farm);
        if (point.Printer.Length > 0)
        {
            _line.Tag("printer", point.Printer);
        }
        else
        {
            _line.Tag("partition", PartitionTag);
        }

        _line.Tag("scope", point.Printer.Length > 0 ? "printer" : "farm").Tag("window", point.Window.Name);
    }

    /// <summary>
    /// The <c>alert</c> point of an alert transition, at its event time: tags <c>rule</c>, <c>scope</c>, the scope's
    /// dimension tag as in <c>kpi</c> and <c>state</c>; fields <c>value</c>, <c>baseline</c>, <c>threshold</c>, <c>message</c>.
    /// </summary>
    public string Alert(AlertTransition alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        _line.Measurement(Measurements.Alert).Tag("farm", _farm);
        switch (alert.Scope)
        {
            case KpiScope.Material: _line.Tag("material", alert.Subject); break;
            case KpiScope.Order: _line.Tag("order", alert.Subject); break;
            case KpiScope.Printer: _line.Tag("printer", alert.Subject); break;
        }

        _line.Tag("rule", alert.Rule).Tag("scope", ScopeName(alert.Scope)).Tag("state", alert.StateName);
        if (alert.Scope == KpiScope.Toy)
        {
            _line.Tag("toy", alert.Subject);
        }

        return _line.Field("value", alert.Value)
            .Field("baseline", alert.Baseline)
            .Field("threshold", alert.Threshold)
            .Field("message", alert.Message)
            .Build(alert.At);
    }

    /// <summary>
    /// The <c>printer</c> telemetry point of an event, or <see langword="null"/> when it carries no telemetry. A job's
    /// end that names no printer state of its own (OctoPrint's <c>PrintDone</c>, a cancel, the native
    /// <c>job_finished</c>) writes <c>state</c> = <c>finished</c>, <c>failed</c> or <c>cancelled</c>, so the printer's
    /// newest state is not left at <c>printing</c> (issue 19).
    /// </summary>
    public string? Printer(PrinterEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var state = e.State ?? EndedState(e);
        if (!e.HasTelemetry && state is null)
        {
            return null;
        }

        return _line.Measurement(Measurements.Printer)
            .Tag("farm", _farm)
            .Tag("printer", e.Printer)
            .Tag("source", e.Source)
            .Field("state", state)
            .Field("progress_pct", e.ProgressPercent)
            .Field("nozzle_c", e.NozzleCelsius)
            .Field("nozzle_target_c", e.NozzleTargetCelsius)
            .Field("nozzle_0_c", e.Nozzle0Celsius)
            .Field("nozzle_1_c", e.Nozzle1Celsius)
            .Field("bed_c", e.BedCelsius)
            .Field("bed_target_c", e.BedTargetCelsius)
            .Field("online", e.Online)
            .Build(e.Timestamp);
    }

    // The state a printer is in once a job ended, when the event names none.
    private static string? EndedState(PrinterEvent e) => e.Kind == EventKind.JobFinished && e.Outcome is { } outcome
        ? outcome switch
        {
            JobOutcome.Completed => "finished",
            JobOutcome.Failed => "failed",
            _ => "cancelled",
        }
        : null;

    /// <summary>The <c>outcome</c> tag value.</summary>
    public static string OutcomeName(JobOutcome outcome) => outcome switch
    {
        JobOutcome.Completed => "completed",
        JobOutcome.Failed => "failed",
        _ => "cancelled",
    };

    /// <summary>The <c>scope</c> tag value.</summary>
    public static string ScopeName(KpiScope scope) => scope switch
    {
        KpiScope.Farm => "farm",
        KpiScope.Printer => "printer",
        KpiScope.Toy => "toy",
        KpiScope.Order => "order",
        _ => "material",
    };

    /// <summary>The <c>order</c> point of an order as it stands, at its placed time (each update overwrites it).</summary>
    public string Order(Orders.OrderStatus order)
    {
        ArgumentNullException.ThrowIfNull(order);
        return _line.Measurement(Measurements.Order)
            .Tag("farm", _farm)
            .Tag("order", order.Id)
            .Field("status", order.StatusName)
            .Field("due", order.Due.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
            .Field("toys_ordered", order.ToysOrdered)
            .Field("toys_completed", order.ToysCompleted)
            .Field("print_time_s", order.PrintSeconds)
            .Field("completed", order.Completed?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
            .Field("on_time", order.OnTime)
            .Field("lateness_s", order.Completed is { } c ? (c - order.Due).TotalSeconds : null)
            .Field("lead_time_s", order.Completed is { } d ? (d - order.Placed).TotalSeconds : null)
            .Field("at_risk", order.AtRisk)
            .Build(order.Placed);
    }

    /// <summary>The <c>order_kpi</c> point of one window: the orders completed in it, at the window start.</summary>
    public string OrderKpi(in Orders.OrderWindowPoint point)
    {
        var t = point.Totals;
        return _line.Measurement(Measurements.OrderKpi)
            .Tag("farm", _farm)
            .Tag("window", point.Window.Name)
            .Field("orders_completed", t.OrdersCompleted)
            .Field("orders_on_time", t.OrdersOnTime)
            .Field("on_time_rate", t.OnTimeRate)
            .Field("toys", t.Toys)
            .Field("print_time_s", t.PrintSeconds)
            .Field("print_time_per_toy_s", t.PrintSecondsPerToy)
            .Field("print_time_per_order_s", t.PrintSecondsPerOrder)
            .Field("lead_time_per_order_s", t.LeadSecondsPerOrder)
            .Build(point.WindowStart);
    }

    /// <summary>
    /// The <c>kpi_reason</c> point of one window and reason, at the window start: <c>jobs</c>, <c>filament_waste_g</c>,
    /// <c>toys_lost</c>, <c>waste_share</c>, <c>quality_loss</c> (see <see cref="ReasonBreakdown"/>).
    /// </summary>
    public string KpiReason(in ReasonPoint point)
    {
        var t = point.Totals;
        return _line.Measurement(Measurements.KpiReason)
            .Tag("farm", _farm)
            .Tag("reason", Jobs.FailureReasons.Name(point.Reason))
            .Tag("window", point.Window.Name)
            .Field("jobs", t.Jobs)
            .Field("filament_waste_g", t.WasteGrams)
            .Field("toys_lost", t.ToysLost)
            .Field("waste_share", point.WasteShare)
            .Field("quality_loss", point.QualityLoss)
            .Build(point.WindowStart);
    }

    /// <summary>The <c>filament_source</c> field value.</summary>
    public static string FilamentSourceName(FilamentSource source) => source switch
    {
        FilamentSource.Measured => "measured",
        FilamentSource.Estimated => "estimated",
        FilamentSource.Prorated => "prorated",
        _ => "unknown",
    };
}

/// <summary>Measurement names of the data contract.</summary>
internal static class Measurements
{
    /// <summary>One point per ended job.</summary>
    public const string Job = "job";

    /// <summary>One point per window × scope × subject.</summary>
    public const string Kpi = "kpi";

    /// <summary>Printer telemetry samples.</summary>
    public const string Printer = "printer";

    /// <summary>Time in each printer state per window × printer (and farm).</summary>
    public const string PrinterTime = "printer_time";

    /// <summary>Built-in alert transitions (fired, resolved).</summary>
    public const string Alert = "alert";

    /// <summary>One point per window × failure reason: waste and toys lost by reason.</summary>
    public const string KpiReason = "kpi_reason";

    /// <summary>One point per order, rewritten as it progresses.</summary>
    public const string Order = "order";

    /// <summary>One point per window: the orders completed in it.</summary>
    public const string OrderKpi = "order_kpi";
}
