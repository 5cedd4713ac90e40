using System.Text;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Alerts;

public sealed class AlertEvaluatorTests
{
    private static readonly WindowSpec Hourly = WindowSpec.Parse("1h");
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(10);

    // The recent range of the default rules, judged once the 03:00 window of day 7 has closed: 00:00–03:00 on day 7.
    private static readonly DateTimeOffset RecentStart = Some.Day.AddDays(7);

    private readonly List<AlertTransition> _output = [];

    [Fact]
    public void Evaluate_RecentAndBaselineEfficiency_AreComputedFromSummedComponentsNotAveragedRatios()
    {
        var sut = CreateSut();
        // Baseline: one window a day at 12:00 for 7 days: 4 completed jobs of 100 g and one failed job of 10 g
        // (efficiency 400 / 410 each day).
        var baseline = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12),
            Jobs(4, JobOutcome.Completed, 100).Concat(Jobs(1, JobOutcome.Failed, 10)))).ToList();
        // Recent: a big good hour and a small bad hour. Summed: (300 + 10) / (300 + 10 + 90) = 77.5 %; the mean of the
        // two windows' ratios would be (100 % + 10 %) / 2 = 55 %.
        var recent = new[]
        {
            Window(RecentStart, Jobs(3, JobOutcome.Completed, 100)),
            Window(RecentStart.AddHours(1), Jobs(1, JobOutcome.Completed, 10).Concat(Jobs(1, JobOutcome.Failed, 90))),
        };

        sut.Evaluate([.. baseline, .. recent], ClosedAfter(RecentStart.AddHours(3)), _output);

        var baseEff = 7 * 400.0 / (7 * 410.0);
        var fired = Assert.Single(_output, a => a.Rule == AlertRuleNames.EfficiencyDrop);
        Assert.Equal((KpiScope.Printer, Some.Printer, AlertState.Firing), (fired.Scope, fired.Subject, fired.State));
        Assert.Equal(310.0 / 400.0, fired.Value!.Value, 12);
        Assert.Equal(baseEff, fired.Baseline!.Value, 12);
        Assert.Equal(baseEff - 0.15, fired.Threshold!.Value, 12);
        Assert.Equal(RecentStart.AddHours(3), fired.At);
        Assert.Contains("printer p1", fired.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_ValueHoveringJustAboveTheLine_DoesNotResolveUntilPastTheHysteresis()
    {
        var sut = CreateSut();
        // Baseline 100 %: the line is 85 %, the resolve level 90 %. The baseline is heavy, so the day-7 hours that slide
        // into it as the range moves on barely move it.
        var points = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(100, JobOutcome.Completed, 100))).ToList();
        sut.Evaluate(points, ClosedAfter(RecentStart), _output);
        Assert.Empty(_output);

        // Each hour on day 7 brings a different efficiency; the recent range is the last three hours.
        var hours = new[] { 0.80, 0.80, 0.80, 0.88, 0.88, 0.88, 0.84, 0.95, 0.95, 0.95 };
        var states = new List<string>();
        for (var h = 0; h < hours.Length; h++)
        {
            var good = hours[h] * 100;
            var start = RecentStart.AddHours(h);
            sut.Evaluate([Window(start, Jobs(3, JobOutcome.Completed, good / 3).Concat(Jobs(1, JobOutcome.Failed, 100 - good)))], ClosedAfter(start.AddHours(1)), _output);
            states.Add(sut.IsFiring(AlertRuleNames.EfficiencyDrop, KpiScope.Printer, Some.Printer) ? "F" : "-");
        }

        // Fires at once (80 % < 85 %); 88 % over three hours is above the line but below 90 %: still firing, no
        // flapping; the 84 % hour keeps the range at 86.7 % and 89 %: no change; at 91.3 % it resolves.
        Assert.Equal("FFFFFFFF--", string.Concat(states));
        Assert.Equal([AlertState.Firing, AlertState.Resolved], _output.Where(a => a.Rule == AlertRuleNames.EfficiencyDrop).Select(a => a.State));
        var resolved = _output.Last();
        Assert.Equal((0.95 + 0.95 + 0.84) / 3, resolved.Value!.Value, 9);
    }

    [Fact]
    public void Evaluate_BelowTheMinimumVolume_JudgesNothing()
    {
        var sut = CreateSut();
        var baseline = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(10, JobOutcome.Completed, 100))).ToList();
        // Two failed jobs on an idle printer: 0 % efficiency and success, but fewer than MinJobs (3).
        sut.Evaluate([.. baseline, Window(RecentStart.AddHours(1), Jobs(2, JobOutcome.Failed, 40))], ClosedAfter(RecentStart.AddHours(3)), _output);
        Assert.Empty(_output);

        // Three jobs but only 30 g of filament (MinFilamentGrams 50): the success rate is judged, efficiency is not.
        var other = CreateSut();
        other.Evaluate([.. baseline, Window(RecentStart.AddHours(1), Jobs(3, JobOutcome.Failed, 10))], ClosedAfter(RecentStart.AddHours(3)), _output);
        Assert.Equal([AlertRuleNames.SuccessRateDrop], _output.Select(a => a.Rule));
    }

    [Fact]
    public void Evaluate_WithoutEnoughBaseline_DoesNotCompare()
    {
        var sut = CreateSut();
        // A new printer: 9 jobs in its baseline (BaselineMinJobs 10), then a bad recent range.
        var baseline = Enumerable.Range(0, 3).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(3, JobOutcome.Completed, 100))).ToList();
        sut.Evaluate([.. baseline, Window(RecentStart, Jobs(5, JobOutcome.Failed, 100))], ClosedAfter(RecentStart.AddHours(3)), _output);
        Assert.DoesNotContain(_output, a => a.Rule is AlertRuleNames.EfficiencyDrop or AlertRuleNames.SuccessRateDrop);
    }

    [Fact]
    public void Evaluate_OpenWindows_AreNotJudgedUntilTheWatermarkClosesThem()
    {
        var sut = CreateSut();
        var baseline = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(10, JobOutcome.Completed, 100))).ToList();
        var bad = Window(RecentStart.AddHours(2), Jobs(5, JobOutcome.Failed, 100));

        // 03:09:59: the 02:00 window ended but is still within its allowed lateness.
        sut.Evaluate([.. baseline, bad], RecentStart.AddHours(3) + Lateness - TimeSpan.FromSeconds(1), _output);
        Assert.Empty(_output);
        sut.Evaluate([], RecentStart.AddHours(3) + Lateness, _output);
        Assert.Contains(_output, a => a.Rule == AlertRuleNames.EfficiencyDrop && a.State == AlertState.Firing);
    }

    [Fact]
    public void Evaluate_PrintTimePerToyRise_FiresAbove125PercentOfTheBaseline()
    {
        var sut = CreateSut();
        // Baseline: 1 h per toy. Recent: 1.3 h per toy (+30 %); efficiency and success unchanged.
        var baseline = Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(10, JobOutcome.Completed, 100, printTime: 3600))).ToList();
        sut.Evaluate([.. baseline, Window(RecentStart, Jobs(4, JobOutcome.Completed, 100, printTime: 3600 * 1.3))], ClosedAfter(RecentStart.AddHours(3)), _output);

        var fired = Assert.Single(_output);
        Assert.Equal(AlertRuleNames.PrintTimeRise, fired.Rule);
        Assert.Equal(3600 * 1.3, fired.Value!.Value, 9);
        Assert.Equal(3600, fired.Baseline!.Value, 9);
        Assert.Equal(3600 * 1.25, fired.Threshold!.Value, 9);
    }

    [Fact]
    public void Evaluate_FixedThresholds_JudgeTheFarmOnlyByDefault()
    {
        var sut = CreateSut();
        // No baseline at all: only the fixed levels apply. 65 % on the farm and on the printer.
        IEnumerable<EndedJob> Recent() => Jobs(3, JobOutcome.Completed, 65.0 / 3).Concat(Jobs(1, JobOutcome.Failed, 35));
        sut.Evaluate([Window(RecentStart, Recent()), Window(RecentStart, Recent(), KpiScope.Farm, string.Empty)], ClosedAfter(RecentStart.AddHours(3)), _output);

        var fired = Assert.Single(_output);
        Assert.Equal((AlertRuleNames.EfficiencyWarning, KpiScope.Farm, 0.7), (fired.Rule, fired.Scope, fired.Threshold!.Value));
        Assert.Null(fired.Baseline);
    }

    [Fact]
    public void Observe_PrinterWithAnOpenJobSilentTooLong_FiresOnceAndItsNextMessageResolves()
    {
        var sut = CreateSut();
        var t0 = Some.At(8);
        sut.Observe("p1", t0, jobOpen: true, _output);
        sut.Observe("p2", t0, jobOpen: false, _output);
        // p2 stays silent but has no job; p1 stops at t0 while printing. Other printers keep the clock going.
        sut.Observe("p3", t0.AddMinutes(14), jobOpen: false, _output);
        Assert.Empty(_output);
        sut.Observe("p3", t0.AddMinutes(15), jobOpen: false, _output);
        sut.Observe("p3", t0.AddMinutes(20), jobOpen: false, _output);

        var fired = Assert.Single(_output);
        Assert.Equal((AlertRuleNames.StoppedReporting, KpiScope.Printer, "p1", AlertState.Firing), (fired.Rule, fired.Scope, fired.Subject, fired.State));
        Assert.Equal(t0.AddMinutes(15), fired.At);
        Assert.Equal(15, fired.Value!.Value, 9);

        sut.Observe("p1", t0.AddMinutes(31), jobOpen: true, _output);
        var resolved = _output[1];
        Assert.Equal((AlertState.Resolved, "p1", t0.AddMinutes(31)), (resolved.State, resolved.Subject, resolved.At));
        Assert.Equal(2, _output.Count);
    }

    [Fact]
    public void Processor_SameMessagesFlushedAtDifferentMoments_GiveTheSameAlertLines()
    {
        var messages = FallingTrace().ToList();
        var everyMessage = Run(messages, flushEvery: 1);
        var rarely = Run(messages, flushEvery: 97);

        Assert.NotEmpty(everyMessage);
        Assert.Equal(everyMessage, rarely);
        Assert.Contains(everyMessage, l => l.Contains("rule=efficiency_drop", StringComparison.Ordinal) && l.Contains("state=firing", StringComparison.Ordinal) && l.Contains("printer=p1", StringComparison.Ordinal));
        Assert.DoesNotContain(everyMessage, l => l.Contains("printer=p2", StringComparison.Ordinal));

        static List<string> Run(List<(string Json, string Printer, DateTimeOffset At)> messages, int flushEvery)
        {
            var processor = CreateProcessor();
            var output = new ProcessorOutput();
            var alerts = new List<string>();
            for (var i = 0; i < messages.Count; i++)
            {
                processor.Process(Pipeline.Message(messages[i].Json, messages[i].At, messages[i].Printer), output);
                if (i % flushEvery == 0)
                {
                    processor.Flush(output);
                }

                alerts.AddRange(output.Lines.Where(l => l.StartsWith("alert,", StringComparison.Ordinal)));
                output.Clear();
            }

            processor.Flush(output);
            alerts.AddRange(output.Lines.Where(l => l.StartsWith("alert,", StringComparison.Ordinal)));
            return alerts;
        }
    }

    [Fact]
    public void Processor_CheckpointRoundTrip_KeepsTheBaselineAndTheFiringAlerts()
    {
        var messages = FallingTrace().ToList();
        // Up to the drop (day 7, 03:00 closed) in one processor, the rest in another restored from its checkpoint.
        var cut = messages.FindIndex(m => m.At >= Some.Day.AddDays(7).AddHours(4));
        var first = CreateProcessor();
        var output = new ProcessorOutput();
        foreach (var m in messages.Take(cut))
        {
            first.Process(Pipeline.Message(m.Json, m.At, m.Printer), output);
            first.Flush(output);
        }

        Assert.True(first.Alerts!.IsFiring(AlertRuleNames.EfficiencyDrop, KpiScope.Printer, "p1"));
        var checkpoint = System.Text.Json.Nodes.JsonNode.Parse(first.SaveCheckpoint(Some.Day).ToJsonString())!.AsObject();

        var second = CreateProcessor();
        second.RestoreCheckpoint(checkpoint);
        Assert.True(second.Alerts!.IsFiring(AlertRuleNames.EfficiencyDrop, KpiScope.Printer, "p1"));
        Assert.Equal(first.Alerts.Series, second.Alerts.Series);
        output.Clear();
        foreach (var m in messages.Skip(cut))
        {
            second.Process(Pipeline.Message(m.Json, m.At, m.Printer), output);
            second.Flush(output);
        }

        // The restored processor did not fire again, and resolved the alert when p1 recovered.
        var transitions = output.Alerts.Where(a => a.Subject == "p1" && a.Rule == AlertRuleNames.EfficiencyDrop).ToList();
        Assert.Equal([AlertState.Resolved], transitions.Select(a => a.State));
    }

    [Fact]
    public void Encoder_AlertPoint_CarriesRuleScopeDimensionAndStateTagsAndItsFields()
    {
        var alert = new AlertTransition(AlertRuleNames.EfficiencyDrop, KpiScope.Toy, "dragon", AlertState.Firing, Some.At(3), 0.5, 0.9, 0.75, "Material efficiency of toy dragon is \"low\"");
        var line = new PointEncoder("farm-a").Alert(alert);
        Assert.Equal(
            "alert,farm=farm-a,rule=efficiency_drop,scope=toy,state=firing,toy=dragon value=0.5,baseline=0.9,threshold=0.75,message=\"Material efficiency of toy dragon is \\\"low\\\"\" " + Some.At(3).ToUnixTimeMilliseconds(),
            line);
        var stopped = new PointEncoder("farm-a").Alert(alert with { Rule = AlertRuleNames.StoppedReporting, Scope = KpiScope.Printer, Subject = "p1", State = AlertState.Resolved, Baseline = null });
        Assert.StartsWith("alert,farm=farm-a,printer=p1,rule=printer_stopped_reporting,scope=printer,state=resolved value=0.5,threshold=0.75,", stopped, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Validate_NamesEveryBadKey()
    {
        var bad = new AlertRuleOptions { Window = "1d", RecentRange = TimeSpan.FromMinutes(90), EfficiencyDropPoints = 0, HysteresisPoints = 20, EfficiencyWarningPercent = 50 };
        var errors = bad.Validate(["1h", "1d"]);
        Assert.Contains(errors, e => e.StartsWith("Window ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("EfficiencyDropPoints ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("HysteresisPoints ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("EfficiencyWarningPercent ", StringComparison.Ordinal));
        Assert.Empty(new AlertRuleOptions().Validate(["1h", "1d"]));
        Assert.Contains(new AlertRuleOptions().Validate(["1d"]), e => e.StartsWith("Window ", StringComparison.Ordinal));
        Assert.Contains(new AlertRuleOptions { RecentRange = TimeSpan.FromMinutes(90) }.Validate(["1h"]), e => e.StartsWith("RecentRange ", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_PrintersOnly_JudgesPrinterWindowsAndLeavesFarmToyAndMaterialRulesOut()
    {
        // Every scope on, thresholds included; the same falling efficiency for a printer and for the farm, toy and material.
        var options = new AlertRuleOptions
        {
            DropScopes = [KpiScope.Farm, KpiScope.Printer, KpiScope.Toy, KpiScope.Material],
            ThresholdScopes = [KpiScope.Farm, KpiScope.Printer, KpiScope.Toy, KpiScope.Material],
        };
        var scopes = new[] { (KpiScope.Printer, Some.Printer), (KpiScope.Farm, string.Empty), (KpiScope.Toy, "dragon"), (KpiScope.Material, "PLA") };
        var points = scopes.SelectMany(s => Enumerable.Range(0, 7).Select(d => Window(Some.Day.AddDays(d).AddHours(12), Jobs(10, JobOutcome.Completed, 100), s.Item1, s.Item2))
            .Append(Window(RecentStart, Jobs(1, JobOutcome.Completed, 100).Concat(Jobs(3, JobOutcome.Failed, 100)), s.Item1, s.Item2))).ToList();

        var all = new List<AlertTransition>();
        CreateSut(options).Evaluate(points, ClosedAfter(RecentStart.AddHours(3)), all);
        var printersOnly = new AlertEvaluator(options, Lateness, printersOnly: true);
        printersOnly.Evaluate(points, ClosedAfter(RecentStart.AddHours(3)), _output);

        // Without the switch every scope fires; with it, exactly the printer's alerts, and no farm-wide window is held.
        Assert.Equal(scopes.Select(s => s.Item1).Order(), all.Select(a => a.Scope).Distinct().Order());
        Assert.NotEmpty(_output);
        Assert.Equal(all.Where(a => a.Scope == KpiScope.Printer).Select(a => (a.Rule, a.Subject, a.State)), _output.Select(a => (a.Rule, a.Subject, a.State)));
        Assert.Equal(1, printersOnly.Series);
    }

    private static AlertEvaluator CreateSut(AlertRuleOptions? options = null) => new(options ?? new AlertRuleOptions(), Lateness);

    private static TelemetryProcessor CreateProcessor() =>
        new(
            [new NativeAdapter()],
            new JobTracker(ToyNameRules.Default, MaterialCatalog.Default),
            new KpiEngine(new KpiEngineOptions { AllowedLateness = Lateness }),
            new PointEncoder(Pipeline.Farm),
            alerts: new AlertEvaluator(new AlertRuleOptions(), Lateness));

    /// <summary>The watermark at which the window ending at <paramref name="end"/> has just closed.</summary>
    private static DateTimeOffset ClosedAfter(DateTimeOffset end) => end + Lateness;

    private static KpiPoint Window(DateTimeOffset start, IEnumerable<EndedJob> jobs, KpiScope scope = KpiScope.Printer, string subject = Some.Printer)
    {
        var totals = default(KpiTotals);
        foreach (var job in jobs)
        {
            totals.Add(job);
        }

        return new KpiPoint(Hourly, start, start.AddHours(1), scope, subject, totals);
    }

    private static IEnumerable<EndedJob> Jobs(int count, JobOutcome outcome, double grams, double printTime = 1800) =>
        Enumerable.Range(0, count).Select(_ => Some.Job(Some.Day, outcome, printTime: printTime, grams: grams));

    /// <summary>
    /// Two printers, one 30-minute job each per hour for 7 days and 8 hours, with progress every 10 minutes, native
    /// messages in event order, received when they happen. p1's jobs fail for three hours on day 7 (01:00–04:00), then succeed again.
    /// </summary>
    private static IEnumerable<(string Json, string Printer, DateTimeOffset At)> FallingTrace() => Unordered().OrderBy(m => m.At);

    private static IEnumerable<(string Json, string Printer, DateTimeOffset At)> Unordered()
    {
        for (var h = 0; h < (7 * 24) + 8; h++)
        {
            var hour = Some.Day.AddHours(h);
            foreach (var printer in new[] { "p1", "p2" })
            {
                var fails = printer == "p1" && hour >= Some.Day.AddDays(7).AddHours(1) && hour < Some.Day.AddDays(7).AddHours(4);
                var start = hour.AddMinutes(5);
                var end = start.AddMinutes(30);
                var id = $"{printer}-{h}";
                yield return (Invariant($$"""{"type":"job_started","ts":"{{start:O}}","job_id":"{{id}}","file":"dragon.gcode"}"""), printer, start);
                foreach (var minutes in new[] { 10, 20 })
                {
                    var at = start.AddMinutes(minutes);
                    yield return (Invariant($$"""{"type":"job_progress","ts":"{{at:O}}","job_id":"{{id}}","progress_pct":{{minutes * 3}}}"""), printer, at);
                }

                yield return (Invariant($$"""{"type":"job_finished","ts":"{{end:O}}","job_id":"{{id}}","file":"dragon.gcode","outcome":"{{(fails ? "failed" : "completed")}}","filament_g":40,"print_time_s":1800}"""), printer, end);
            }
        }

        static string Invariant(FormattableString s) => s.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
