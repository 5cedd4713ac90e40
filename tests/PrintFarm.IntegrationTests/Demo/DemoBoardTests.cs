using PrintFarm.Core.Alerts;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Demo.Board;
using PrintFarm.Simulator;
using Spectre.Console;

namespace PrintFarm.IntegrationTests.Demo;

/// <summary>
/// Issue 19 item 3: the alert the drop raises shows on the demo's board, not only in demo.log. The board reads the
/// lines the worker writes, so the alert is encoded by the worker's own <see cref="PointEncoder"/>.
/// </summary>
public sealed class DemoBoardTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 7, 20, 0, TimeSpan.Zero);

    [Fact]
    public void A_firing_alert_the_worker_wrote_is_on_the_board_and_in_the_plain_line_and_its_resolution_replaces_it()
    {
        var state = new BoardState();
        var encoder = new PointEncoder("demo");
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 2, Start = Now.AddHours(-1), Duration = TimeSpan.FromHours(1) });
        var board = new ConsoleBoard(state, simulation, () => Now, "demo");
        var firing = new AlertTransition(AlertRuleNames.EfficiencyDrop, KpiScope.Farm, string.Empty, AlertState.Firing, Now.AddMinutes(-20), 0.48, 0.92, 0.77, "Material efficiency of the farm over the last 1 h fell to 48.0 %, 44.0 points below its baseline of 92.0 %");

        Assert.Contains("alerts firing 0", board.PlainLine(), StringComparison.Ordinal);
        state.Observe([encoder.Alert(firing)]);

        Assert.Contains("alerts firing 1", board.PlainLine(), StringComparison.Ordinal);
        var screen = Render(board);
        Assert.Contains("FIRING", screen, StringComparison.Ordinal);
        Assert.Contains("fell to 48.0 %", screen, StringComparison.Ordinal);

        state.Observe([encoder.Alert(firing with { State = AlertState.Resolved, At = Now, Message = "Material efficiency of the farm is back to 90.0 %" })]);
        Assert.Contains("alerts firing 0", board.PlainLine(), StringComparison.Ordinal);
        screen = Render(board);
        Assert.Contains("resolved", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("FIRING", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void The_board_names_the_failure_reason_that_wasted_the_most_filament_today()
    {
        var state = new BoardState();
        var encoder = new PointEncoder("demo");
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 2, Start = Now.AddHours(-1), Duration = TimeSpan.FromHours(1) });
        var board = new ConsoleBoard(state, simulation, () => Now, "demo");
        Assert.Contains("no failed or cancelled job yet", Render(board), StringComparison.Ordinal);

        // The worker's own lines: a day with 30 g lost to clogs and 10 g to a runout.
        var day = WindowSpec.Parse("1d");
        var tracker = new PrintFarm.Core.Jobs.ReasonTracker([day]);
        tracker.AddJob(Job("a", 30, PrintFarm.Core.Jobs.FailureReason.Clog), (_, _) => false);
        tracker.AddJob(Job("b", 10, PrintFarm.Core.Jobs.FailureReason.FilamentRunout), (_, _) => false);
        var points = new List<ReasonPoint>();
        tracker.Collect(Now, points);
        state.Observe(points.Select(p => encoder.KpiReason(p)).ToList());

        Assert.Contains("why prints failed today: clog, 75 % of the waste (1 jobs, 30 g)", Render(board), StringComparison.Ordinal);

        static PrintFarm.Core.Events.EndedJob Job(string id, double grams, PrintFarm.Core.Jobs.FailureReason reason) => new()
        {
            Printer = "p1", Source = "native", JobId = id, File = "f.gcode", Toy = "dragon", Quantity = 1, Material = "PLA",
            Outcome = PrintFarm.Core.Events.JobOutcome.Failed, Reason = reason, Start = Now.AddMinutes(-30), End = Now.AddMinutes(-10),
            PrintTimeSeconds = 1200, FilamentGrams = grams, FilamentSource = PrintFarm.Core.Events.FilamentSource.Measured,
        };
    }

    private static string Render(ConsoleBoard board)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        console.Write(board.Render());
        return writer.ToString();
    }
}
