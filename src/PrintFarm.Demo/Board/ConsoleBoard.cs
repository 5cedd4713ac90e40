using System.Globalization;
using PrintFarm.Core.Kpis;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Worker.Reporting;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace PrintFarm.Demo.Board;

/// <summary>Renders the board: farm KPIs of the current windows, per toy, and one row per printer.</summary>
internal sealed class ConsoleBoard(BoardState state, FarmSimulation simulation, Func<DateTimeOffset> now, string header)
{
    private static readonly WindowSpec Hour = WindowSpec.Parse("1h");
    private static readonly WindowSpec Day = WindowSpec.Parse("1d");

    public IRenderable Render()
    {
        var t = now();
        var hour = Hour.StartOf(t);
        var day = Day.StartOf(t);
        var farm = new Table().Border(TableBorder.Rounded).Title("[bold]Farm KPIs[/]")
            .AddColumns("window", "toys completed", "print time / toy", "material efficiency", "success rate", "utilization", "jobs (ok/failed/cancelled)");
        AddFarmRow(farm, $"this hour {hour:HH:mm}", state.Kpi("1h", hour));
        AddFarmRow(farm, $"last hour {hour.AddHours(-1):HH:mm}", state.Kpi("1h", hour.AddHours(-1)));
        AddFarmRow(farm, $"today {day:yyyy-MM-dd}", state.Kpi("1d", day));
        farm.Caption(TopReason(state.TopReason("1d", day)));

        var oee = new Table().Border(TableBorder.Rounded).Title("[bold]OEE[/] (availability × performance × quality)")
            .AddColumns("window", "OEE", "availability", "performance", "quality", "toys good/started");
        AddOeeRow(oee, $"this hour {hour:HH:mm}", state.Kpi("1h", hour));
        AddOeeRow(oee, $"last hour {hour.AddHours(-1):HH:mm}", state.Kpi("1h", hour.AddHours(-1)));
        AddOeeRow(oee, $"today {day:yyyy-MM-dd}", state.Kpi("1d", day));

        var toys = new Table().Border(TableBorder.Rounded).Title("[bold]Per toy, today[/]").AddColumns("toy", "toys completed", "print time / toy", "material efficiency");
        foreach (var (_, toy, p) in state.Kpis("1d", "toy").Where(k => k.Start == day))
        {
            toys.AddRow(Markup.Escape(toy), Count(p.Number("toys_completed")), KpiTable.PrintTime(p.Number("avg_print_time_per_toy_s")), KpiTable.Efficiency(p));
        }

        var printers = new Table().Border(TableBorder.Rounded).Title("[bold]Printers[/]").AddColumns("printer", "format", "state", "current toy", "progress", "last job");
        var running = simulation.Truth.Started.Where(j => j.Planned.Start <= t && j.Planned.End > t).ToDictionary(j => j.Planned.Printer, j => j.Planned);
        foreach (var printer in simulation.Printers)
        {
            var p = state.Printer(printer.Id);
            var last = state.LastJob(printer.Id);
            var online = p?.Fields.TryGetValue("online", out var o) == true && o is false ? "[grey]offline[/]" : null;
            printers.AddRow(
                printer.Id,
                Format(printer.Format),
                online ?? Markup.Escape(p?.Text("state") ?? "-"),
                running.TryGetValue(printer.Id, out var job) ? job.Toy.Name : "[grey]idle[/]",
                p?.Number("progress_pct") is { } pct && running.ContainsKey(printer.Id) ? $"{pct:0} %" : "",
                last is null ? "" : $"{Outcome(last.Tag("outcome"))} {Markup.Escape(last.Tag("toy"))}");
        }

        var alerts = new Table().Border(TableBorder.Rounded).Title("[bold]Alerts[/]").AddColumns("state", "since", "alert");
        // Orders at risk are listed under the orders row: one per order would crowd the farm's alerts out of this table.
        var latest = state.Alerts().Where(a => a.Tag("scope") != "order").ToList();
        foreach (var a in latest.Take(6))
        {
            alerts.AddRow(
                a.Tag("state") == "firing" ? "[red]FIRING[/]" : "[green]resolved[/]",
                DateTimeOffset.FromUnixTimeMilliseconds(a.TimestampMs).ToString("HH:mm", CultureInfo.InvariantCulture),
                Markup.Escape(a.Text("message") ?? a.Tag("rule")));
        }

        if (latest.Count == 0)
        {
            alerts.AddRow("[grey]none[/]", "", "[grey]the worker's built-in rules judge every closed hour[/]");
        }

        var cost = new Table().Border(TableBorder.Rounded).Title("[bold]Landed cost per toy (plugged printers metered)[/]")
            .AddColumns("window", "cost / toy", "material", "energy", "machine", "labour", "kWh / toy");
        AddCostRow(cost, $"last hour {hour.AddHours(-1):HH:mm}", state.Kpi("1h", hour.AddHours(-1)));
        AddCostRow(cost, $"today {day:yyyy-MM-dd}", state.Kpi("1d", day));

        var orders = new Table().Border(TableBorder.Rounded).Title("[bold]Orders and on-time delivery[/]")
            .AddColumns("window", "on-time delivery", "orders completed (on time/late)", "production time / model", "per order");
        AddOrderRow(orders, $"last hour {hour.AddHours(-1):HH:mm}", state.OrderKpi("1h", hour.AddHours(-1)));
        AddOrderRow(orders, $"today {day:yyyy-MM-dd}", state.OrderKpi("1d", day));
        orders.Caption(AtRisk(state.Orders()));

        return new Rows(new Markup(header + $"\n[bold]simulated time[/] {t:yyyy-MM-dd HH:mm:ss} UTC    Ctrl-C stops and prints the final KPI table\n"), farm, oee, alerts, toys, printers, cost, orders);
    }

    /// <summary>One plain line for logs and pipes: the current hour and today.</summary>
    public string PlainLine()
    {
        var t = now();
        var firing = state.Alerts().Count(a => a.Tag("state") == "firing" && a.Tag("scope") != "order");
        return string.Create(CultureInfo.InvariantCulture, $"{t:yyyy-MM-dd HH:mm} sim | hour {Plain(state.Kpi("1h", Hour.StartOf(t)))} | today {Plain(state.Kpi("1d", Day.StartOf(t)))} | orders today {PlainOrders(state.OrderKpi("1d", Day.StartOf(t)), state.Orders())} | alerts firing {firing}");
    }

    internal static string Plain(LinePoint? p)
    {
        if (p is null)
        {
            return "no jobs yet";
        }

        var perToy = p.Number("avg_print_time_per_toy_s") is { } s ? $"{Bands.Duration(s)} ({Bands.PrintTimePerToy(s).Word})" : "-";
        var efficiency = p.Number("material_efficiency") is { } e ? $"{e * 100:0.0} % ({Bands.Efficiency(e).Word})" : "-";
        if (KpiTable.LeftOut(p) is { } leftOut)
        {
            efficiency += $" [{leftOut}]";
        }

        return string.Create(CultureInfo.InvariantCulture, $"toys {p.Number("toys_completed") ?? 0:0}, print time/toy {perToy}, efficiency {efficiency}, success {Percent(p.Number("success_rate"))}, utilization {Percent(p.Number("utilization"))}");
    }

    internal static string PlainOrders(LinePoint? day, IReadOnlyList<LinePoint> orders)
    {
        var atRisk = orders.Count(o => o.Text("status") == "open" && o.Fields.TryGetValue("at_risk", out var r) && r is true);
        var onTime = day?.Number("on_time_rate") is { } rate ? $"{rate * 100:0} % on time ({OnTimeBand(rate).Word})" : "none completed";
        return string.Create(CultureInfo.InvariantCulture, $"{day?.Number("orders_completed") ?? 0:0} completed, {onTime}, {atRisk} at risk");
    }

    private static void AddFarmRow(Table table, string label, LinePoint? p) => table.AddRow(
        label,
        Count(p?.Number("toys_completed")),
        KpiTable.PrintTime(p?.Number("avg_print_time_per_toy_s")),
        KpiTable.Efficiency(p),
        Percent(p?.Number("success_rate")),
        Percent(p?.Number("utilization")),
        p is null ? "-" : $"{p.Number("jobs_completed") ?? 0:0}/{p.Number("jobs_failed") ?? 0:0}/{p.Number("jobs_cancelled") ?? 0:0}");

    // The timeline's OEE fields on the window's kpi point (docs/kpis.md, "OEE").
    private static void AddOeeRow(Table table, string label, LinePoint? p) => table.AddRow(
        label,
        Percent(p?.Number("oee")),
        Percent(p?.Number("availability")),
        Percent(p?.Number("performance")),
        Percent(p?.Number("quality")),
        p?.Number("toys_started") is { } started ? $"{p.Number("toys_completed") ?? 0:0}/{started:0}" : "-");
    // "why prints failed today: clog, 62 % of the waste (3 jobs, 120 g)", from the day's kpi_reason points.
    internal static string TopReason(LinePoint? p) => p is null
        ? "[grey]why prints failed today: no failed or cancelled job yet[/]"
        : string.Create(CultureInfo.InvariantCulture, $"why prints failed today: [bold]{Markup.Escape(p.Tag("reason"))}[/], {(p.Number("waste_share") is { } share ? $"{share * 100:0} % of the waste" : "no filament known")} ({p.Number("jobs") ?? 0:0} jobs, {p.Number("filament_waste_g") ?? 0:0} g)");

    private static void AddCostRow(Table table, string label, LinePoint? p) => table.AddRow(
        label,
        Money(p?.Number("cost_per_toy")),
        Money(p?.Number("cost_material_per_toy")),
        Money(p?.Number("cost_energy_per_toy")),
        Money(p?.Number("cost_machine_per_toy")),
        Money(p?.Number("cost_labour_per_toy")),
        p?.Number("energy_per_toy_kwh") is { } kwh ? kwh.ToString("0.000", CultureInfo.InvariantCulture) : "-");

    // The order_kpi point of a window (docs/kpis.md, "Orders and on-time delivery"), with the seeds' bands.
    private static void AddOrderRow(Table table, string label, LinePoint? p) => table.AddRow(
        label,
        p?.Number("on_time_rate") is { } rate ? Banded($"{rate * 100:0} %", OnTimeBand(rate)) : "-",
        p is null ? "0" : $"{p.Number("orders_completed") ?? 0:0} ({p.Number("orders_on_time") ?? 0:0}/{(p.Number("orders_completed") ?? 0) - (p.Number("orders_on_time") ?? 0):0})",
        p?.Number("print_time_per_toy_s") is { } perToy ? Banded(Bands.Duration(perToy), ProductionTimeBand(perToy)) : "-",
        p?.Number("print_time_per_order_s") is { } perOrder ? Bands.Duration(perOrder) : "-");

    // "open orders 7, at risk 2: o00012 (due 14:30), …", from the order points as they stand.
    internal static string AtRisk(IReadOnlyList<LinePoint> orders)
    {
        var open = orders.Where(o => o.Text("status") == "open").ToList();
        var risky = open.Where(o => o.Fields.TryGetValue("at_risk", out var r) && r is true).ToList();
        var names = string.Join(", ", risky.Take(4).Select(o => $"{Markup.Escape(o.Tag("order"))} (due {Markup.Escape(o.Text("due") is { Length: >= 16 } due ? due[11..16] : "?")})"));
        return risky.Count == 0
            ? $"open orders {open.Count}, none at risk"
            : $"open orders {open.Count}, [red]at risk {risky.Count}[/]: {names}{(risky.Count > 4 ? ", …" : string.Empty)}";
    }

    // On-time delivery: 85 % typical, above 95 % exceptional (docs/kpis.md).
    internal static (string Colour, string Word) OnTimeBand(double rate) => rate switch
    {
        > 0.95 => ("green", "exceptional"),
        >= 0.85 => ("yellow", "typical"),
        _ => ("red", "below typical"),
    };

    // Production time per model: 10–15 h typical, under 5 h exceptional (docs/kpis.md).
    internal static (string Colour, string Word) ProductionTimeBand(double seconds) => (seconds / 3600) switch
    {
        < 5 => ("green", "exceptional"),
        < 10 => ("chartreuse3", "good"),
        <= 15 => ("yellow", "typical"),
        _ => ("red", "slow"),
    };

    private static string Banded(string value, (string Colour, string Word) band) => $"[{band.Colour}]{value}[/] ({band.Word})";

    private static string Money(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) : "-";

    private static string Percent(double? ratio) => ratio is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r * 100:0} %") : "-";

    private static string Count(double? n) => n is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "0";

    private static string Outcome(string outcome) => outcome switch
    {
        "completed" => "[green]completed[/]",
        "failed" => "[red]failed[/]",
        _ => "[yellow]cancelled[/]",
    };

    private static string Format(PrinterFormat format) => format switch
    {
        PrinterFormat.OctoPrint => "OctoPrint",
        PrinterFormat.Moonraker => "Moonraker",
        PrinterFormat.Bambu => "Bambu",
        _ => "native",
    };
}
