using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// The dashboard's "Orders and on-time delivery" row against a real InfluxDB holding the worker's order lines of the
/// <see cref="FarmDay"/> (<see cref="OrderFarmDay"/>): each panel shows what the order book computed, with its bands.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OrderBoardTests(ServicesFixture services)
{
    [Fact]
    public void The_orders_row_is_one_collapsed_row_below_the_board_with_panel_ids_400_to_449_and_the_seed_bands()
    {
        using var doc = GrafanaFiles.Dashboard();
        var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();
        var at = panels.FindIndex(p => p.GetProperty("id").GetInt32() == 400);
        Assert.True(at >= 0, "no panel 400");
        var row = panels[at];
        Assert.Equal("row", row.GetProperty("type").GetString());
        Assert.True(row.GetProperty("collapsed").GetBoolean());
        Assert.All(panels.Skip(at + 1), p => Assert.Equal("row", p.GetProperty("type").GetString()));
        var bottom = panels.Take(at).Max(p => p.GetProperty("gridPos").GetProperty("y").GetInt32() + p.GetProperty("gridPos").GetProperty("h").GetInt32());
        Assert.True(row.GetProperty("gridPos").GetProperty("y").GetInt32() >= bottom);
        var inner = row.GetProperty("panels").EnumerateArray().ToList();
        Assert.All(inner.Select(p => p.GetProperty("id").GetInt32()).Append(row.GetProperty("id").GetInt32()), id => Assert.InRange(id, 400, 449));

        double?[] Steps(string title) => inner.Single(p => p.GetProperty("title").GetString() == title)
            .GetProperty("fieldConfig").GetProperty("defaults").GetProperty("thresholds").GetProperty("steps").EnumerateArray()
            .Select(s => s.GetProperty("value").ValueKind == System.Text.Json.JsonValueKind.Null ? (double?)null : s.GetProperty("value").GetDouble()).ToArray();
        Assert.Equal([null, 0.85, 0.95], Steps("On-time delivery rate"));
        Assert.Equal([null, 5, 10, 15], Steps("Production time per model"));
        Assert.Equal([null, 100, 150, 200], Steps("Completed orders per month"));
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1d")]
    public async Task The_orders_panels_show_what_the_order_book_computed_for_the_day(string window)
    {
        var database = "orders_board_" + Guid.NewGuid().ToString("N");
        var day = new FarmDay("farm-" + Guid.NewGuid().ToString("N")[..8]);
        await services.Influx.CreateDatabaseAsync(database);
        await OrderFarmDay.WriteAsync(day, services.Influx.Url, database);
        var (book, _) = OrderFarmDay.WorkerOutput(day);
        var early = book.Get("d-early")!;
        var late = book.Get("c-late")!;
        var open = book.Get("r-open")!;
        Assert.True(early.OnTime);
        Assert.False(late.OnTime);
        Assert.Null(open.Completed);
        Assert.True(open.AtRisk, "the seed's open order is at risk at the farm's rate");

        var (from, to) = FarmDay.Range;
        var t = new GrafanaTemplate(from, to, TimeSpan.FromHours(1)).With("farm", day.Farm).With("window", window);
        Assert.Equal(0.5, (await SingleAsync(database, "On-time delivery rate", t)).Number("on-time rate"), 9);
        Assert.Equal((early.PrintSeconds + late.PrintSeconds) / (early.ToysOrdered + late.ToysOrdered) / 3600, (await SingleAsync(database, "Production time per model", t)).Number("hours per model"), 9);
        Assert.Equal(2, (await SingleAsync(database, "Completed orders per month", t)).Number("orders"));
        Assert.Equal(1, (await SingleAsync(database, "Open orders at risk", t)).Number("at risk"));

        var table = await services.Influx.QueryAsync(database, t.Render(Query("Open and at-risk orders")));
        var row = Assert.Single(table);
        Assert.Equal("r-open", row.Text("order"));
        Assert.Equal(20, row.Number("ordered"));
        Assert.Equal(open.ToysCompleted, row.Number("completed"));
        Assert.True(row["at risk"].GetBoolean());

        var perWindow = await services.Influx.QueryAsync(database, t.Render(Query("On-time delivery rate per window")));
        // Both orders completed in the 09:00 hour, so both window sizes have one window.
        Assert.Equal([0.5], perWindow.Select(r => r.Number("on-time rate")));
    }

    private static string Query(string title) => GrafanaFiles.PanelQueries().Single(q => q.PanelTitle == title && q.RefId == "A").Query;

    private async Task<Dictionary<string, System.Text.Json.JsonElement>> SingleAsync(string database, string title, GrafanaTemplate t)
    {
        var rows = await services.Influx.QueryAsync(database, t.Render(Query(title)));
        Assert.True(rows.Count == 1, $"'{title}' returned {rows.Count} rows:\n{rows.Format()}");
        return rows[0];
    }
}
