using System.Globalization;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator.Truth;

/// <summary>
/// Why simulated prints fail, and how each format says it: a Bambu <c>print_error</c> code, a Klipper
/// <c>print_stats.message</c>, an OctoPrint <c>PrintFailed</c> error text or a cancel with its user, the native
/// <c>reason</c>. The reason of a job is drawn from its printer and number (not from the simulation's random stream,
/// so traces stay as they were apart from these fields). The codes and texts are the ones <c>docs/kpis.md</c> maps.
/// </summary>
public static class SimReasons
{
    // Failures a format can express, in the proportions a farm sees them (runout and adhesion most often).
    private static readonly FailureReason[] Failures =
    [
        FailureReason.FilamentRunout, FailureReason.FilamentRunout, FailureReason.Adhesion, FailureReason.Adhesion,
        FailureReason.Clog, FailureReason.Spaghetti, FailureReason.PowerLoss, FailureReason.UserError, FailureReason.Unknown,
    ];

    /// <summary>
    /// The reason of a failed or cancelled job (null when it completed), from its printer's index in the farm and its
    /// number (not the printer id, which a test may prefix at random); a struck printer's drop is a clog (a bad filament batch).
    /// </summary>
    public static FailureReason? For(PlannedJob job, int printerIndex, PrinterFormat format, bool struck)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Outcome == JobOutcome.Completed)
        {
            return null;
        }

        if (job.Outcome == JobOutcome.Cancelled)
        {
            return FailureReason.OperatorCancel;
        }

        if (struck)
        {
            return FailureReason.Clog;
        }

        var reason = Failures[Hash(printerIndex, job.Number) % Failures.Length];

        // Bambu has no code that says "adhesion" for sure, and user errors are what Bambu's checks catch: elsewhere they
        // are those formats' unknown texts.
        return (format, reason) switch
        {
            (PrinterFormat.Bambu, FailureReason.Adhesion) => FailureReason.Spaghetti,
            (not PrinterFormat.Bambu and not PrinterFormat.Native, FailureReason.UserError) => FailureReason.Unknown,
            _ => reason,
        };
    }

    /// <summary>A Bambu <c>print_error</c> code for a failure reason (decimal on the wire); an unmapped heater fault for unknown.</summary>
    public static long BambuCode(FailureReason? reason) => reason switch
    {
        FailureReason.FilamentRunout => 0x07008011,
        FailureReason.Clog => 0x03004006,
        FailureReason.Spaghetti => 0x03008003,
        FailureReason.PowerLoss => 0x0300400D,
        FailureReason.UserError => 0x05008051,
        FailureReason.OperatorCancel => 50348044,
        _ => 83935249,
    };

    /// <summary>A Klipper or OctoPrint error text for a failure reason; a heater fault (no reason in it) for unknown.</summary>
    public static string Text(FailureReason? reason, PrinterFormat format) => reason switch
    {
        FailureReason.FilamentRunout => "Filament runout detected on extruder",
        FailureReason.Adhesion => "Print detached from bed: first layer adhesion lost",
        FailureReason.Clog => "Extruder clog detected (no filament motion)",
        FailureReason.Spaghetti => "Spaghetti detected by camera monitor, print stopped",
        FailureReason.PowerLoss => "Power loss recovery: job could not resume",
        _ => format == PrinterFormat.OctoPrint ? "Thermal Runaway" : "Heater extruder not heating at expected rate",
    };

    /// <summary>The native schema's <c>reason</c>: the taxonomy name.</summary>
    public static string? Native(FailureReason? reason) => reason is { } r ? FailureReasons.Name(r) : null;

    /// <summary>
    /// The truth of <c>kpi_reason</c> for one window: per reason, the failed and cancelled jobs that ended in it, their
    /// waste and toys, after <paramref name="label"/> (a job → the operator's reason, or null when not labelled).
    /// </summary>
    public static IReadOnlyDictionary<FailureReason, ReasonTotals> Breakdown(GroundTruth truth, WindowSpec window, DateTimeOffset start, Func<EndedJob, FailureReason?>? label = null)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(window);
        var result = new Dictionary<FailureReason, ReasonTotals>();
        foreach (var job in truth.Jobs.Select(j => j.Reported))
        {
            if (job.Outcome == JobOutcome.Completed || window.StartOf(job.End) != start)
            {
                continue;
            }

            var reason = label?.Invoke(job) ?? job.Reason ?? FailureReason.Unknown;
            var totals = result.GetValueOrDefault(reason);
            totals.Add(job, +1);
            result[reason] = totals;
        }

        return result;
    }

    // FNV-1a over the printer's index and the job number: the same job always gets the same reason.
    private static int Hash(int printer, int number)
    {
        var h = 2166136261u;
        foreach (var c in printer.ToString(CultureInfo.InvariantCulture) + "#" + number.ToString(CultureInfo.InvariantCulture))
        {
            h = (h ^ c) * 16777619u;
        }

        return (int)(h & 0x7fffffff);
    }
}
