using System.Globalization;
using PrintFarm.Core.Events;

namespace PrintFarm.Core.Jobs;

/// <summary>Why a job did not complete: the small taxonomy of <c>docs/kpis.md</c>, "Why prints fail".</summary>
public enum FailureReason
{
    /// <summary>No source said why, or what it said maps to nothing below (its text is kept as the detail).</summary>
    Unknown,

    /// <summary>The spool or the AMS slot ran out of filament.</summary>
    FilamentRunout,

    /// <summary>The part came loose from the plate (first layer, warping).</summary>
    Adhesion,

    /// <summary>The nozzle or extruder clogged.</summary>
    Clog,

    /// <summary>Spaghetti: the print turned to loose strands, usually detected by a camera tool.</summary>
    Spaghetti,

    /// <summary>The printer lost power during the job.</summary>
    PowerLoss,

    /// <summary>Somebody stopped the job on purpose.</summary>
    OperatorCancel,

    /// <summary>A wrong file, plate, nozzle or setting was used for the job.</summary>
    UserError,
}

/// <summary>
/// The one place a failure reason is decided: from each source's own codes and texts (Bambu <c>print_error</c>, Klipper
/// <c>print_stats.message</c>, OctoPrint's cancel vs error, the native <c>reason</c>) and from operator labels. Pure.
/// Only documented codes are mapped (sources in <c>docs/kpis.md</c>); everything else is <see cref="FailureReason.Unknown"/>
/// with the raw code or text kept as the detail.
/// </summary>
public static class FailureReasons
{
    /// <summary>Longest detail kept, characters; a longer text is cut with an ellipsis.</summary>
    public const int MaxDetailLength = 200;

    /// <summary><c>reason_source</c> of a reason from the printer's (or its host's) own payload.</summary>
    public const string FromPrinter = "printer";

    /// <summary><c>reason_source</c> of a reason an operator labelled afterwards.</summary>
    public const string FromOperator = "operator";

    /// <summary>Every reason, in the order of the taxonomy.</summary>
    public static IReadOnlyList<FailureReason> All { get; } = Enum.GetValues<FailureReason>();

    // Bambu print_error codes (decimal on the wire; the lists write them as 8 hex digits) with the reason each one
    // names, from ha-bambulab pybambu/const_print_errors.py (37f2c20). Codes whose text says "may"/"check if" are left out.
    private static readonly Dictionary<long, FailureReason> BambuCodes = new()
    {
        [0x0300400C] = FailureReason.OperatorCancel, // "The task was canceled." (= 50348044, the cancel code)
        [0x0500400E] = FailureReason.OperatorCancel, // "Printing was cancelled."
        [0x03004006] = FailureReason.Clog,           // "The nozzle is clogged."
        [0x03008016] = FailureReason.Clog,           // "The nozzle is clogged with filament. ..."
        [0x03008003] = FailureReason.Spaghetti,      // "Spaghetti defects were detected by the AI Print Monitoring. ..."
        [0x03008007] = FailureReason.PowerLoss,      // "There was an unfinished print job when the printer lost power. ..."
        [0x0300400D] = FailureReason.PowerLoss,      // "Resume failed after power loss."
        [0x07008011] = FailureReason.FilamentRunout, // "AMS filament ran out. ..." (AMS A)
        [0x07018011] = FailureReason.FilamentRunout, // same, AMS B
        [0x05004037] = FailureReason.UserError,      // "Your sliced file is not compatible with current printer model. ..."
        [0x05004038] = FailureReason.UserError,      // "The nozzle diameter in sliced file is not consistent with the current nozzle setting. ..."
        [0x05008051] = FailureReason.UserError,      // "Detected build plate is not the same as the Gcode file. ..."
    };

    // Words in free text (Klipper print_stats.message, OctoPrint's PrintFailed 'error', a native reason that is not a
    // taxonomy name). Klipper has no error codes: these messages come from macros and modules, so a few plain keywords
    // are matched, case-insensitively, in this order; the first that matches wins.
    private static readonly (string Word, FailureReason Reason)[] Keywords =
    [
        ("runout", FailureReason.FilamentRunout),
        ("run out", FailureReason.FilamentRunout),
        ("ran out", FailureReason.FilamentRunout),
        ("out of filament", FailureReason.FilamentRunout),
        ("clog", FailureReason.Clog),
        ("spaghetti", FailureReason.Spaghetti),
        ("power loss", FailureReason.PowerLoss),
        ("power outage", FailureReason.PowerLoss),
        ("adhesion", FailureReason.Adhesion),
        ("first layer", FailureReason.Adhesion),
        ("detached", FailureReason.Adhesion),
    ];

    /// <summary>The reason's name as written in the <c>job</c> point and accepted in labels: <c>filament_runout</c>, ….</summary>
    public static string Name(FailureReason reason) => reason switch
    {
        FailureReason.FilamentRunout => "filament_runout",
        FailureReason.Adhesion => "adhesion",
        FailureReason.Clog => "clog",
        FailureReason.Spaghetti => "spaghetti",
        FailureReason.PowerLoss => "power_loss",
        FailureReason.OperatorCancel => "operator_cancel",
        FailureReason.UserError => "user_error",
        _ => "unknown",
    };

    /// <summary>Reads a taxonomy name (case-insensitive, <c>-</c> or space for <c>_</c>); false for anything else.</summary>
    public static bool TryParse(string? name, out FailureReason reason)
    {
        reason = FailureReason.Unknown;
        if (string.IsNullOrWhiteSpace(name))
        {
            return false;
        }

        var normalized = name.Trim().Replace('-', '_').Replace(' ', '_').ToLowerInvariant();
        foreach (var candidate in All)
        {
            if (Name(candidate) == normalized)
            {
                reason = candidate;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A Bambu job that ended FAILED: its <c>print_error</c> (or, without one, <c>fail_reason</c>) code. The detail is
    /// the code in the 8-hex-digit form Bambu's lists use, so an unmapped code can be looked up.
    /// </summary>
    public static ReasonReport FromBambu(long? printError, long? failReason)
    {
        var code = printError is > 0 ? printError : failReason is > 0 ? failReason : null;
        if (code is not { } c)
        {
            return new ReasonReport(FailureReason.Unknown, null);
        }

        var detail = string.Create(CultureInfo.InvariantCulture, $"bambu print_error {c:X8}");
        return new ReasonReport(BambuCodes.GetValueOrDefault(c, FailureReason.Unknown), detail);
    }

    /// <summary>A free-text error message (Klipper <c>print_stats.message</c>, OctoPrint's <c>error</c>): keywords, else unknown; the text is the detail.</summary>
    public static ReasonReport FromText(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return new ReasonReport(FailureReason.Unknown, null);
        }

        foreach (var (word, reason) in Keywords)
        {
            if (text.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return new ReasonReport(reason, Detail(text));
            }
        }

        return new ReasonReport(FailureReason.Unknown, Detail(text));
    }

    /// <summary>
    /// An OctoPrint end: a cancel (PrintCancelled, or PrintFailed with <c>reason</c> <c>cancelled</c>) is an operator
    /// cancel whose detail names the <c>user</c> when the payload has one; a PrintFailed with <c>reason</c> <c>error</c>
    /// is read from its <c>error</c> text.
    /// </summary>
    public static ReasonReport FromOctoPrint(JobOutcome outcome, string? error, string? user)
    {
        if (outcome == JobOutcome.Cancelled)
        {
            return new ReasonReport(FailureReason.OperatorCancel, string.IsNullOrWhiteSpace(user) ? null : Detail("cancelled by " + user));
        }

        return FromText(error);
    }

    /// <summary>The native schema's <c>reason</c>: a taxonomy name, else free text read by <see cref="FromText"/>.</summary>
    public static ReasonReport FromNative(string? reason)
    {
        if (TryParse(reason, out var parsed))
        {
            return new ReasonReport(parsed, null);
        }

        return FromText(reason);
    }

    /// <summary>
    /// The reason an ended job carries: none when it completed; otherwise the source's reason, else
    /// <see cref="FailureReason.Unknown"/>.
    /// </summary>
    public static FailureReason? ForOutcome(JobOutcome outcome, FailureReason? reported) =>
        outcome == JobOutcome.Completed ? null : reported ?? FailureReason.Unknown;

    /// <summary>Text cut to <see cref="MaxDetailLength"/>, control characters replaced by spaces.</summary>
    public static string Detail(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var cut = trimmed.Length <= MaxDetailLength ? trimmed : string.Concat(trimmed.AsSpan(0, MaxDetailLength - 1), "…");
        return string.Create(cut.Length, cut, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = char.IsControl(s[i]) ? ' ' : s[i];
            }
        });
    }
}

/// <summary>A reason and the raw code or text it came from (null when the source gave none).</summary>
public readonly record struct ReasonReport(FailureReason Reason, string? Detail);
