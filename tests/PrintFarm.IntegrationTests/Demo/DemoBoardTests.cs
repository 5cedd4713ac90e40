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
    public void Two_points_on_the_same_kpi_series_and_time_merge_their_fields_as_InfluxDB_does()
    {
        var state = new BoardState();
        var t = Now.ToUnixTimeMilliseconds();

        // The job KPIs, then the OEE fields the timeline writes as a second point of the same series and time.
        state.Observe([$"kpi,farm=demo,scope=farm,window=1h jobs_completed=2i,toys_completed=3i {t}"]);
        state.Observe([$"kpi,farm=demo,scope=farm,window=1h availability=0.5,oee=0.25 {t}"]);

        var p = state.Kpi("1h", Now);
        Assert.NotNull(p);
        Assert.Equal(2, p.Number("jobs_completed"));
        Assert.Equal(3, p.Number("toys_completed"));
        Assert.Equal(0.5, p.Number("availability"));

        // A later point of the same series and time overwrites only the fields it carries.
        state.Observe([$"kpi,farm=demo,scope=farm,window=1h jobs_completed=4i {t}"]);
        p = state.Kpi("1h", Now);
        Assert.Equal(4, p!.Number("jobs_completed"));
        Assert.Equal(0.25, p.Number("oee"));

        // Another series (another printer) and another time stay apart.
        state.Observe([$"kpi,farm=demo,printer=p1,scope=printer,window=1h availability=0.9 {t}", $"kpi,farm=demo,scope=farm,window=1h availability=0.7 {t + 3_600_000}"]);
        Assert.Equal(0.5, state.Kpi("1h", Now)!.Number("availability"));
        Assert.Null(state.Kpi("1h", Now, "printer", "p1")!.Number("jobs_completed"));
        Assert.Null(state.Kpi("1h", Now.AddHours(1))!.Number("jobs_completed"));
    }

    [Fact]
    public void The_OEE_the_worker_wrote_for_this_hour_is_on_the_board()
    {
        var state = new BoardState();
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 2, Start = Now.AddHours(-1), Duration = TimeSpan.FromHours(1) });
        var board = new ConsoleBoard(state, simulation, () => Now, "demo");
        var hour = Now.AddMinutes(-20).ToUnixTimeMilliseconds();
        state.Observe([
            $"kpi,farm=demo,scope=farm,window=1h jobs_completed=3i,toys_completed=9i {hour}",
            $"kpi,farm=demo,scope=farm,window=1h availability=0.8,performance=0.9,quality=0.75,oee=0.54,toys_started=12i {hour}",
        ]);

        var screen = Render(board);
        Assert.Contains("OEE", screen, StringComparison.Ordinal);
        Assert.Matches(@"this hour 07:00\s*│\s*54 %\s*│\s*80 %\s*│\s*90 %\s*│\s*75 %\s*│\s*9/12", screen);
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

    [Fact]
    public void The_orders_row_shows_the_on_time_rate_and_production_time_the_worker_wrote_with_their_bands_and_the_orders_at_risk()
    {
        var state = new BoardState();
        var encoder = new PointEncoder("demo");
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 2, Start = Now.AddHours(-1), Duration = TimeSpan.FromHours(1) });
        var board = new ConsoleBoard(state, simulation, () => Now, "demo");
        Assert.Contains("open orders 0, none at risk", Render(board), StringComparison.Ordinal);

        // The worker's own order book and lines: in the last hour (06:00) one order completed late and one on time, each
        // two toys printed in an hour; a third, of 40 frogs due at 08:20, cannot be made in time at the farm's rate.
        static bool Open(WindowSpec w, DateTimeOffset t) => false;
        var book = new PrintFarm.Core.Orders.OrderBook([WindowSpec.Parse("1h"), WindowSpec.Parse("1d")]);
        void Order(string id, DateTimeOffset placed, DateTimeOffset due, string toy, int quantity) => Assert.True(book.Receive(
            id,
            System.Text.Encoding.UTF8.GetBytes($$"""{"placed":"{{placed:O}}","due":"{{due:O}}","lines":[{"toy":"{{toy}}","quantity":{{quantity}}}]}"""),
            placed,
            Open).Accepted);
        Order("late", Now.AddHours(-4), Now.AddHours(-1).AddMinutes(-10), "dragon", 2);
        Order("early", Now.AddHours(-4).AddMinutes(1), Now.AddHours(2), "owl", 2);
        Order("frogs", Now.AddHours(-4).AddMinutes(2), Now.AddHours(1), "frog", 40);
        book.AddJob(Job("j1", "order-late_dragon_x2.gcode", "dragon", Now.AddMinutes(-60)), Open);
        book.AddJob(Job("j2", "owl_x2.gcode", "owl", Now.AddMinutes(-40)), Open);
        var alerts = new List<AlertTransition>();
        book.Advance(Now, alerts);
        Assert.Single(alerts);
        var orders = new List<PrintFarm.Core.Orders.OrderStatus>();
        var windows = new List<PrintFarm.Core.Orders.OrderWindowPoint>();
        book.Collect(Open, orders, windows);
        state.Observe([.. orders.Select(encoder.Order), .. windows.Select(w => encoder.OrderKpi(w)), .. alerts.Select(encoder.Alert)]);

        var screen = Render(board);
        Assert.Contains("Orders and on-time delivery", screen, StringComparison.Ordinal);
        Assert.Matches(@"last hour 06:00\s*│\s*50 % \(below typical\)\s*│\s*2 \(1/1\)\s*│\s*30m00s \(exceptional\)\s*│\s*1h00m", screen);
        Assert.Matches(@"today 2026-03-02\s*│\s*50 % \(below typical\)\s*│\s*2 \(1/1\)", screen);
        Assert.Contains("open orders 1, at risk 1: frogs (due 08:20)", screen, StringComparison.Ordinal);
        Assert.Contains("orders today 2 completed, 50 % on time (below typical), 1 at risk | alerts firing 0", board.PlainLine(), StringComparison.Ordinal);

        // The order's at-risk alert is under the orders row, not in the farm's alerts table.
        Assert.DoesNotContain("FIRING", screen, StringComparison.Ordinal);

        static PrintFarm.Core.Events.EndedJob Job(string id, string file, string toy, DateTimeOffset end) => new()
        {
            Printer = "p1", Source = "native", JobId = id, File = file, Toy = toy, Quantity = 2, Material = "PLA",
            Outcome = PrintFarm.Core.Events.JobOutcome.Completed, Start = end.AddHours(-1), End = end,
            PrintTimeSeconds = 3600, FilamentGrams = 20, FilamentSource = PrintFarm.Core.Events.FilamentSource.Measured,
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
