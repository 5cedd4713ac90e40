using PrintFarm.Core.Cost;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Demo.Board;
using PrintFarm.Simulator;
using Spectre.Console;

namespace PrintFarm.IntegrationTests.Cost;

/// <summary>The demo board's landed-cost row, from the lines the worker writes (its own <see cref="PointEncoder"/>).</summary>
public sealed class CostBoardTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 20, 0, TimeSpan.Zero);

    [Fact]
    public void The_cost_line_of_a_window_joins_its_kpi_line_on_the_board_and_the_landed_cost_row_shows_it()
    {
        var state = new BoardState();
        var encoder = new PointEncoder("demo");
        var simulation = new FarmSimulation(new SimulationOptions { Printers = 2, Start = Now.AddHours(-2), Duration = TimeSpan.FromHours(2) });
        var board = new ConsoleBoard(state, simulation, () => Now, "demo");
        var hour = WindowSpec.Parse("1h");
        var start = Now.AddHours(-1).AddMinutes(-20);
        var totals = default(KpiTotals);
        totals.Add(new PrintFarm.Core.Events.EndedJob
        {
            Printer = "p1", Source = "native", JobId = "j1", File = "dragon_x4.gcode", Toy = "dragon", Quantity = 4, Material = "PLA",
            Outcome = PrintFarm.Core.Events.JobOutcome.Completed, Start = start, End = start.AddMinutes(30), PrintTimeSeconds = 1800,
            FilamentGrams = 100, FilamentSource = PrintFarm.Core.Events.FilamentSource.Measured,
        });
        var cost = new CostTotals { GoodToys = 4, Plates = 1, Material = 2.0, Machine = 0.5, Labour = 0.8, JobKwh = 0.3, IdleKwh = 0.1, Energy = 0.12 };

        state.Observe([encoder.Kpi(new KpiPoint(hour, start, start.AddHours(1), KpiScope.Farm, string.Empty, totals)), encoder.CostKpi(new CostPoint(hour, start, KpiScope.Farm, string.Empty, cost))]);

        var point = state.Kpi("1h", start)!;
        Assert.Equal(4, point.Number("toys_completed"));
        Assert.Equal(LandedCost.PerToy(cost)!.Value, point.Number("cost_per_toy")!.Value, 9);
        var screen = Render(board);
        Assert.Contains("Landed cost per toy", screen, StringComparison.Ordinal);
        Assert.Contains(LandedCost.PerToy(cost)!.Value.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), screen, StringComparison.Ordinal);
        Assert.Contains("0.100", screen, StringComparison.Ordinal); // 0.4 kWh ÷ 4 toys
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
