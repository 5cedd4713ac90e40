using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.IntegrationTests.Grafana;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Oee;

/// <summary>
/// The board's OEE row, run against a real InfluxDB on the farm day the worker's own encoder, KPI engine and timeline
/// wrote (<see cref="FarmDay"/>): the OEE series is the product of its factors, quality per printer is the jobs' good
/// toys over toys started, and both downtime Paretos add up what <c>printer_time</c> holds.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OeeBoardTests(ServicesFixture services)
{
    private static readonly string[] DowntimeStates = ["paused_s", "preparing_s", "awaiting_bed_clear_s", "idle_s", "offline_s", "error_s"];

    [Fact]
    public void The_OEE_row_is_its_own_collapsed_row_with_ids_300_to_349_below_the_board_before_it_and_overlapping_nothing()
    {
        using var doc = GrafanaFiles.Dashboard();
        var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();
        var at = panels.FindIndex(p => p.GetProperty("id").GetInt32() == 300);
        Assert.True(at >= 0, "no panel 300");
        var row = panels[at];
        Assert.Equal("row", row.GetProperty("type").GetString());
        Assert.True(row.GetProperty("collapsed").GetBoolean());

        // Below every panel that comes before it (the board as it was before the issue-21 rows) ...
        static int Top(JsonElement p) => p.GetProperty("gridPos").GetProperty("y").GetInt32();
        static int Bottom(JsonElement p) => Top(p) + p.GetProperty("gridPos").GetProperty("h").GetInt32();
        Assert.True(Top(row) >= panels.Take(at).Max(Bottom));

        // ... and above every row that follows, so none of its panels overlaps another row's (collapsed rows lay their
        // panels out from their own y when opened).
        var inside = row.GetProperty("panels").EnumerateArray().ToList();
        var end = inside.Max(Bottom);
        Assert.All(panels.Skip(at + 1), p =>
        {
            Assert.Equal("row", p.GetProperty("type").GetString());
            Assert.True(p.GetProperty("id").GetInt32() >= 350, "only the later issue-21 rows (ids 350 and up) follow the OEE row");
            Assert.True(Top(p) >= end, $"panel {p.GetProperty("id").GetInt32()} starts at y={Top(p)}, inside the OEE row (ends at {end})");
        });
        Assert.Equal(5, inside.Count);
        Assert.All(inside, p => Assert.InRange(p.GetProperty("id").GetInt32(), 301, 349));
        Assert.Equal(2, inside.Count(p => p.GetProperty("type").GetString() == "barchart"
            && p.GetProperty("transformations").EnumerateArray().Any(t => t.GetProperty("id").GetString() == "sortBy"
                && t.GetProperty("options").GetProperty("sort")[0].GetProperty("desc").GetBoolean())));
    }

    [Fact]
    public async Task The_OEE_panels_and_the_downtime_Paretos_show_what_the_worker_wrote()
    {
        var database = "oee_" + Guid.NewGuid().ToString("N");
        var day = new FarmDay("farm-" + Guid.NewGuid().ToString("N")[..8]);
        await services.Influx.CreateDatabaseAsync(database);
        await day.WriteAsync(services.Influx.Url, database);
        var t = AllOf(day.Farm, "1h");

        // OEE per window is the product of its three factors, and some hours have all three.
        var series = await RunAsync(database, "OEE and its factors per window", "A", t);
        var complete = series.Where(r => r["OEE"].ValueKind == JsonValueKind.Number).ToList();
        Assert.True(complete.Count >= 3, series.Format());
        Assert.All(complete, r => Assert.Equal(r.Number("availability") * r.Number("performance") * r.Number("quality"), r.Number("OEE"), 12));
        Assert.All(complete, r => Assert.InRange(r.Number("OEE"), 0, 1));

        // Quality over the range by printer: good toys ÷ (good toys + toys of failed jobs); cancels are left out.
        var quality = await RunAsync(database, "OEE factors by printer", "B", t);
        foreach (var printer in FarmDay.Printers)
        {
            var jobs = day.Jobs.Where(j => j.Printer == printer).ToList();
            double good = jobs.Where(j => j.Outcome == JobOutcome.Completed).Sum(j => j.Quantity);
            double started = good + jobs.Where(j => j.Outcome == JobOutcome.Failed).Sum(j => j.Quantity);
            Assert.Equal(good / started, quality.Single(r => r.Text("printer") == printer).Number("quality"), 12);
        }

        // The Paretos add up printer_time's rows: per printer the hours not printing (maintenance left out), and per state.
        var raw = await services.Influx.QueryAsync(database, $"SELECT * FROM \"printer_time\" WHERE \"farm\" = '{day.Farm}' AND \"window\" = '1h'");
        var byPrinter = await RunAsync(database, "Downtime by printer (Pareto)", "A", t);
        Assert.Equal(FarmDay.Printers.Order(), byPrinter.Select(r => r.Text("printer")!).Order());
        foreach (var row in byPrinter)
        {
            var own = raw.Where(r => r.Text("printer") == row.Text("printer")).ToList();
            Assert.Equal(own.Sum(r => DowntimeStates.Sum(s => r.Number(s))) / 3600, row.Number("downtime hours"), 9);
        }

        var byState = Assert.Single(await RunAsync(database, "Downtime by state (Pareto)", "A", t));
        var farm = raw.Where(r => r.Text("scope") == "farm").ToList();
        Assert.Equal(farm.Sum(r => r.Number("offline_s")) / 3600, byState.Number("offline"), 9);
        Assert.Equal(farm.Sum(r => r.Number("idle_s")) / 3600, byState.Number("idle"), 9);
        Assert.True(byState.Number("offline") > 0, "the Bambu printer drops off the network after its last job");
    }

    private static GrafanaTemplate AllOf(string farm, string window)
    {
        var (from, to) = FarmDay.Range;
        var template = new GrafanaTemplate(from, to, TimeSpan.FromHours(1)).With("farm", farm).With("window", window);
        foreach (var name in new[] { "printer", "toy", "material" })
        {
            template.WithAll(name, ".*");
        }

        return template;
    }

    private Task<IReadOnlyList<Dictionary<string, JsonElement>>> RunAsync(string database, string title, string refId, GrafanaTemplate template)
    {
        var query = GrafanaFiles.PanelQueries().Single(q => q.PanelTitle == title && q.RefId == refId);
        return services.Influx.QueryAsync(database, template.Render(query.Query));
    }
}
