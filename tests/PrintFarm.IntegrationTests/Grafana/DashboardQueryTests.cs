using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// The Grafana dashboard and alert rules, run against a real InfluxDB: every InfluxQL query is taken from the
/// repository's files, its macros and variables substituted as Grafana would, and run on a day of farm data
/// written as the worker writes it. Key panels and every alert rule must give the figures computed from the jobs.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class DashboardQueryTests(ServicesFixture services)
{
    private static readonly string[] MultiValueVariables = ["printer", "toy", "material"];

    [Fact]
    public void Every_panel_and_variable_queries_the_provisioned_InfluxDB_datasource_with_raw_InfluxQL()
    {
        var datasource = GrafanaFiles.Map(GrafanaFiles.Seq(GrafanaFiles.Yaml(GrafanaFiles.DatasourcePath)["datasources"]).Single());
        Assert.Equal(GrafanaFiles.DatasourceUid, GrafanaFiles.Str(datasource["uid"]));
        Assert.Equal("influxdb", GrafanaFiles.Str(datasource["type"]));
        Assert.Equal("${INFLUX_URL}", GrafanaFiles.Str(datasource["url"]));
        var jsonData = GrafanaFiles.Map(datasource["jsonData"]);
        Assert.Equal("InfluxQL", GrafanaFiles.Str(jsonData["version"]));
        Assert.Equal("${INFLUX_DATABASE}", GrafanaFiles.Str(jsonData["dbName"]));
        Assert.Contains("${INFLUX_TOKEN}", GrafanaFiles.Str(GrafanaFiles.Map(datasource["secureJsonData"])["httpHeaderValue1"]), StringComparison.Ordinal);

        var provider = GrafanaFiles.Map(GrafanaFiles.Seq(GrafanaFiles.Yaml(GrafanaFiles.DashboardProviderPath)["providers"]).Single());
        Assert.Equal("file", GrafanaFiles.Str(provider["type"]));
        Assert.False(string.IsNullOrWhiteSpace(GrafanaFiles.Str(GrafanaFiles.Map(provider["options"])["path"])));

        // One folder for the board and the rules: rule groups can name their folder by title only, so the provider
        // must too (with folderUid it looks up by uid and, on Grafana >= 11.3, creates a second "PrintFarm").
        Assert.False(provider.ContainsKey("folderUid"), "the dashboard provider must not set folderUid (see the comment in printfarm.yaml)");
        var folder = GrafanaFiles.Str(provider["folder"]);
        Assert.Equal("PrintFarm", folder);
        Assert.All(GrafanaFiles.AlertRules(), r => Assert.Equal(folder, r.Folder));

        var queries = GrafanaFiles.PanelQueries();
        Assert.True(queries.Count >= 20, $"only {queries.Count} panel queries");
        Assert.All(queries, q =>
        {
            Assert.True(q.RawQuery, $"{q} is not a raw InfluxQL query");
            Assert.False(string.IsNullOrWhiteSpace(q.Query), $"{q} has no query");
            Assert.Equal(GrafanaFiles.DatasourceUid, q.DatasourceUid);
        });

        var variables = GrafanaFiles.Variables().ToDictionary(v => v.Name, StringComparer.Ordinal);
        Assert.Equal("SHOW TAG VALUES FROM \"kpi\" WITH KEY = \"farm\"", variables["farm"].Query);
        Assert.Equal("custom", variables["window"].Type);
        Assert.Equal(new[] { "1h", "1d" }, variables["window"].Query.Split(',').Select(s => s.Trim()));
        foreach (var name in MultiValueVariables)
        {
            Assert.True(variables[name].Multi && variables[name].IncludeAll, $"${name} should be multi-value with All");
            Assert.Equal(".*", variables[name].AllValue);
        }

        Assert.All(variables.Values.Where(v => v.Type == "query"), v => Assert.Equal(GrafanaFiles.DatasourceUid, v.DatasourceUid));

        // A multi-value variable becomes a regex such as (a|b): anywhere but inside =~ /^$var$/ it breaks the query.
        foreach (var query in queries.Select(q => q.Query).Concat(variables.Values.Select(v => v.Query)))
        {
            foreach (var name in MultiValueVariables)
            {
                var uses = GrafanaTemplate.References(query).Count(r => r == name);
                var regexUses = CountOf(query, $"=~ /^${name}$/");
                Assert.True(uses == regexUses, $"${name} is used outside =~ /^${name}$/ in: {query}");
            }
        }
    }

    [Fact]
    public void The_efficiency_and_print_time_panels_colour_the_industry_benchmark_bands()
    {
        using var doc = GrafanaFiles.Dashboard();
        var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();
        var efficiency = panels.Where(p => Title(p).Contains("efficiency", StringComparison.OrdinalIgnoreCase) && PanelType(p) is "stat" or "timeseries").ToList();
        var printTime = panels.Where(p => Title(p).StartsWith("Print time per toy", StringComparison.Ordinal)).ToList();
        Assert.True(efficiency.Count >= 4, "stat and time series of material efficiency");
        Assert.True(printTime.Count >= 3, "stat and time series of print time per toy");

        foreach (var panel in efficiency)
        {
            Assert.Equal(new double?[] { null, 0.6, 0.7, 0.9 }, ThresholdSteps(panel));
            Assert.Equal("percentunit", panel.GetProperty("fieldConfig").GetProperty("defaults").GetProperty("unit").GetString());
            Assert.Contains("60–70 %", panel.GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        foreach (var panel in printTime)
        {
            Assert.Equal(new double?[] { null, 2.0, 4.0 }, ThresholdSteps(panel));
            Assert.Equal("h", panel.GetProperty("fieldConfig").GetProperty("defaults").GetProperty("unit").GetString());
            Assert.Contains("2–4 h", panel.GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        var text = Assert.Single(panels, p => PanelType(p) == "text").GetProperty("options").GetProperty("content").GetString();
        Assert.Contains("60–70 % typical", text, StringComparison.Ordinal);
        Assert.Contains("above 90 % exceptional", text, StringComparison.Ordinal);
        Assert.Contains("2–4 h typical", text, StringComparison.Ordinal);
        Assert.Contains("under 2 h excellent", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_dashboard_variable_and_alert_query_runs_on_a_real_InfluxDB_for_every_variable_choice()
    {
        var (day, database) = await SeedAsync();
        var failures = new List<string>();
        var empty = new List<string>();
        foreach (var (scenario, template) in Scenarios(day.Farm))
        {
            var everything = GrafanaFiles.PanelQueries().Select(q => (What: q.ToString(), q.Query))
                .Concat(GrafanaFiles.Variables().Where(v => v.Type == "query").Select(v => (What: $"variable ${v.Name}", v.Query)))
                .Concat(GrafanaFiles.AnnotationQueries().Select(a => (What: $"annotation '{a.Name}'", a.Query)));
            foreach (var (what, query) in everything)
            {
                try
                {
                    var rows = await services.Influx.QueryAsync(database, template.Render(query));
                    // Queries anchored at the range's end (${__to}) read the hours before midnight here, which have
                    // no data; The_efficiency_baseline_table_* checks them over a range that ends in the day.
                    if (rows.Count == 0 && scenario == "1h, all" && !query.Contains("${__to}", StringComparison.Ordinal))
                    {
                        // InfluxQL answers a misspelt field or tag with no rows rather than an error.
                        empty.Add($"{what}: {template.Render(query)}");
                    }
                }
                catch (InvalidOperationException ex)
                {
                    failures.Add($"[{scenario}] {what}: {ex.Message}");
                }
            }
        }

        foreach (var rule in GrafanaFiles.AlertRules())
        {
            try
            {
                await RuleEvaluation.EvaluateAsync(services.Influx, rule, database, FarmDay.Hour(14).AddMinutes(30));
            }
            catch (InvalidOperationException ex)
            {
                failures.Add($"{rule}: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, "queries failed:\n" + string.Join("\n", failures));
        Assert.True(empty.Count == 0, "queries returned nothing for a day with data:\n" + string.Join("\n", empty));
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1d")]
    public async Task The_farm_stats_add_the_windows_of_the_time_range_up_to_the_totals_of_the_jobs(string window)
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, window);
        var all = FarmDay.Expect(day.Jobs);

        Assert.Equal(all.Efficiency, (await SingleRowAsync(database, "Material efficiency", t)).Number("material efficiency"), 9);
        Assert.Equal(all.HoursPerToy, (await SingleRowAsync(database, "Print time per toy", t)).Number("hours per toy"), 9);
        Assert.Equal(all.Toys, (await SingleRowAsync(database, "Toys completed", t)).Number("toys"));
        var jobs = await SingleRowAsync(database, "Jobs", t);
        Assert.Equal((all.Completed, all.Failed, all.Cancelled), ((int)jobs.Number("completed"), (int)jobs.Number("failed"), (int)jobs.Number("cancelled")));
        Assert.Equal(all.SuccessRate, (await SingleRowAsync(database, "Success rate", t)).Number("success rate"), 9);
        var filament = await SingleRowAsync(database, "Filament used / wasted", t);
        Assert.Equal(all.FilamentUsed, filament.Number("used"), 6);
        Assert.Equal(all.FilamentWasted, filament.Number("wasted"), 6);
    }

    [Fact]
    public async Task The_print_time_per_toy_stat_is_empty_rather_than_zero_while_no_toy_completed()
    {
        var (day, database) = await SeedAsync();
        // 15:00–16:00 holds a single failed job: no toy, so no print time per toy (not "0 h, excellent").
        var t = new GrafanaTemplate(FarmDay.Hour(15), FarmDay.Hour(16).AddMilliseconds(-1), TimeSpan.FromHours(1))
            .With("farm", day.Farm).With("window", "1h");
        Assert.Empty(await RunAsync(database, Panel("Print time per toy"), t));
        Assert.Equal(0, (await SingleRowAsync(database, "Toys completed", t)).Number("toys"));
        Assert.Equal(0, (await SingleRowAsync(database, "Material efficiency", t)).Number("material efficiency"));
        Assert.Equal(1, (await SingleRowAsync(database, "Jobs", t)).Number("failed"));
    }

    [Fact]
    public async Task The_per_window_panels_show_each_hourly_window_at_its_start()
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, "1h");
        var hours = Enumerable.Range(8, 8).ToArray();
        var hoursWithToys = hours.Where(h => day.ExpectHours(h, h).Toys > 0).ToArray();
        Assert.Equal(Enumerable.Range(8, 7), hoursWithToys);

        var efficiency = await RunAsync(database, Panel("Material efficiency per window"), t);
        Assert.Equal(hours.Select(FarmDay.Hour), efficiency.Select(r => r.Time()));
        Assert.Equal(hours.Select(h => day.ExpectHours(h, h).Efficiency), efficiency.Select(r => r.Number("material efficiency")), new Near(9));

        var perToy = await RunAsync(database, Panel("Print time per toy per window"), t);
        Assert.Equal(hoursWithToys.Select(FarmDay.Hour), perToy.Select(r => r.Time()));
        Assert.Equal(hoursWithToys.Select(h => day.ExpectHours(h, h).HoursPerToy), perToy.Select(r => r.Number("hours per toy")), new Near(9));

        // Count panels also show the windows where printers were busy but no job ended, as zeros.
        var windows = day.WindowHours();
        Assert.True(windows.Count > hours.Length);
        var jobs = await RunAsync(database, Panel("Jobs per window"), t);
        Assert.Equal(windows.Select(FarmDay.Hour), jobs.Select(r => r.Time()));
        Assert.Equal(windows.Select(h => day.ExpectHours(h, h).Failed), jobs.Select(r => (int)r.Number("failed")));

        var toys = await RunAsync(database, Panel("Toys completed per window"), t);
        Assert.Equal(windows.Select(h => day.ExpectHours(h, h).Toys), toys.Select(r => (int)r.Number("toys")));

        var success = await RunAsync(database, Panel("Success rate per window"), t);
        Assert.Equal(hours.Select(h => day.ExpectHours(h, h).SuccessRate), success.Select(r => r.Number("success rate")), new Near(9));

        // The daily window: one point at midnight with the whole day.
        var daily = await RunAsync(database, Panel("Material efficiency per window"), AllOf(day.Farm, "1d"));
        var point = Assert.Single(daily);
        Assert.Equal(FarmDay.Day, point.Time());
        Assert.Equal(FarmDay.Expect(day.Jobs).Efficiency, point.Number("material efficiency"), 9);
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1d")]
    public async Task The_material_cost_stat_adds_the_windows_of_the_time_range_up_to_the_cost_of_the_jobs(string window)
    {
        var (day, database) = await SeedAsync();
        var all = FarmDay.Expect(day.Jobs);
        Assert.True(all.MaterialCost > 0);

        Assert.Equal(all.MaterialCost, (await SingleRowAsync(database, "Material cost", AllOf(day.Farm, window))).Number("material cost"), 9);
    }

    [Fact]
    public async Task The_material_cost_and_estimate_ratio_panels_show_each_hourly_window_the_worker_computed()
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, "1h");

        // Every hour with an ended job of known filament has a cost; per toy only where toys completed (not 15:00).
        var costHours = Enumerable.Range(0, 24).Where(h => day.ExpectHours(h, h).MaterialCost > 0).ToArray();
        Assert.Equal(Enumerable.Range(8, 8), costHours);
        var cost = await RunAsync(database, Panel("Material cost per window"), t);
        Assert.Equal(costHours.Select(FarmDay.Hour), cost.Select(r => r.Time()));
        Assert.Equal(costHours.Select(h => day.ExpectHours(h, h).MaterialCost), cost.Select(r => r.Number("material cost")), new Near(9));
        var perToy = await RunAsync(database, Panel("Material cost per window", "B"), t);
        Assert.Equal(costHours.Where(h => day.ExpectHours(h, h).Toys > 0).Select(h => day.ExpectHours(h, h).MaterialCost / day.ExpectHours(h, h).Toys), perToy.Select(r => r.Number("cost per toy")), new Near(9));

        // Only hours with a completed job that had a slicer estimate; the two printers with estimates differ (1/1.05, 1.2).
        var estimateHours = Enumerable.Range(0, 24).Where(h => day.ExpectHours(h, h).EstimateRatio is not null).ToArray();
        Assert.Equal(Enumerable.Range(8, 7), estimateHours);
        var ratio = await RunAsync(database, Panel("Actual ÷ estimated print time per window"), t);
        Assert.Equal(estimateHours.Select(FarmDay.Hour), ratio.Select(r => r.Time()));
        Assert.Equal(estimateHours.Select(h => day.ExpectHours(h, h).EstimateRatio!.Value), ratio.Select(r => r.Number("actual ÷ estimate")), new Near(9));
        Assert.True(ratio.Select(r => r.Number("actual ÷ estimate")).Distinct().Count() > 2, "the windows' ratios should differ");

        var daily = Assert.Single(await RunAsync(database, Panel("Actual ÷ estimated print time per window"), AllOf(day.Farm, "1d")));
        Assert.Equal(FarmDay.Expect(day.Jobs).EstimateRatio!.Value, daily.Number("actual ÷ estimate"), 9);
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1d")]
    public async Task The_efficiency_stat_and_series_count_the_jobs_without_filament_data_they_leave_out(string window)
    {
        var (day, database) = await SeedAsync();
        var all = FarmDay.Expect(day.Jobs);
        Assert.Equal(1, all.WithoutFilament);

        var stat = await RunAsync(database, Panel("Material efficiency", "B"), AllOf(day.Farm, window));
        Assert.Equal(all.WithoutFilament, Assert.Single(stat).Number("jobs without filament data left out"));

        var series = await RunAsync(database, Panel("Material efficiency per window", "B"), AllOf(day.Farm, window));
        var hours = window == "1h" ? day.WindowHours() : [0];
        Assert.Equal(hours.Select(h => window == "1h" ? FarmDay.Hour(h) : FarmDay.Day), series.Select(r => r.Time()));
        Assert.Equal(hours.Select(h => window == "1h" ? day.ExpectHours(h, h).WithoutFilament : all.WithoutFilament), series.Select(r => (int)r.Number("jobs without filament data left out")));
    }

    [Fact]
    public async Task The_per_printer_table_breaks_the_KPIs_down_by_printer_and_follows_the_printer_variable()
    {
        var (day, database) = await SeedAsync();
        var counts = await RunAsync(database, Panel("Per-printer KPIs", "A"), AllOf(day.Farm, "1h"));
        var filament = await RunAsync(database, Panel("Per-printer KPIs", "B"), AllOf(day.Farm, "1h"));
        var perToy = await RunAsync(database, Panel("Per-printer KPIs", "C"), AllOf(day.Farm, "1h"));
        var success = await RunAsync(database, Panel("Per-printer KPIs", "D"), AllOf(day.Farm, "1h"));
        Assert.Equal(FarmDay.Printers, counts.Select(r => r.Text("printer")));
        Assert.Equal(FarmDay.Printers, filament.Select(r => r.Text("printer")));
        foreach (var printer in FarmDay.Printers)
        {
            var expected = FarmDay.Expect(day.Jobs.Where(j => j.Printer == printer));
            var row = counts.Single(r => r.Text("printer") == printer);
            Assert.Equal(expected.Completed, (int)row.Number("completed"));
            Assert.Equal(expected.Failed, (int)row.Number("failed"));
            Assert.Equal(expected.Cancelled, (int)row.Number("cancelled"));
            Assert.Equal(expected.Toys, (int)row.Number("toys"));
            Assert.Equal(expected.PrintTimeSeconds / 3600, row.Number("print hours"), 9);
            Assert.Equal(expected.HoursPerToy, perToy.Single(r => r.Text("printer") == printer).Number("hours per toy"), 9);
            Assert.Equal(expected.SuccessRate, success.Single(r => r.Text("printer") == printer).Number("success rate"), 9);
            Assert.Equal(expected.WithoutFilament, (int)row.Number("jobs without filament"));
            Assert.Equal(expected.Efficiency, filament.Single(r => r.Text("printer") == printer).Number("material efficiency"), 9);
        }

        var one = AllOf(day.Farm, "1d").WithMulti("printer", "mk4-02");
        var only = Assert.Single(await RunAsync(database, Panel("Per-printer KPIs", "A"), one));
        Assert.Equal("mk4-02", only.Text("printer"));
        var lines = await RunAsync(database, Panel("Material efficiency by printer"), one);
        Assert.All(lines, r => Assert.Equal("mk4-02", r.Text("printer")));
        Assert.Equal(day.Jobs.Where(j => j.Printer == "mk4-02").Select(j => j.End.Hour).Distinct().Count(), (await RunAsync(database, Panel("Material efficiency by printer"), one.With("window", "1h"))).Count);
    }

    [Fact]
    public async Task The_per_toy_and_per_material_tables_match_the_jobs_of_each_subject()
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, "1d");
        var toys = await RunAsync(database, Panel("Per toy", "A"), t);
        var toyEfficiency = await RunAsync(database, Panel("Per toy", "B"), t);
        var toyHours = await RunAsync(database, Panel("Per toy", "C"), t);
        var toySuccess = await RunAsync(database, Panel("Per toy", "D"), t);
        foreach (var toy in day.Jobs.Select(j => j.Toy).Distinct())
        {
            var expected = FarmDay.Expect(day.Jobs.Where(j => j.Toy == toy));
            var row = toys.Single(r => r.Text("toy") == toy);
            Assert.Equal(expected.Toys, (int)row.Number("toys"));
            Assert.Equal(expected.HoursPerToy, toyHours.Single(r => r.Text("toy") == toy).Number("hours per toy"), 9);
            Assert.Equal(expected.SuccessRate, toySuccess.Single(r => r.Text("toy") == toy).Number("success rate"), 9);
            Assert.Equal(expected.Efficiency, toyEfficiency.Single(r => r.Text("toy") == toy).Number("material efficiency"), 9);
        }

        var materials = await RunAsync(database, Panel("Per material", "A"), t);
        var filament = await RunAsync(database, Panel("Per material", "B"), t);
        Assert.Equal(["PETG", "PLA"], materials.Select(r => r.Text("material")));
        foreach (var material in new[] { "PETG", "PLA" })
        {
            var expected = FarmDay.Expect(day.Jobs.Where(j => j.Material == material));
            Assert.Equal(expected.WithoutFilament, (int)materials.Single(r => r.Text("material") == material).Number("jobs without filament"));
            var row = filament.Single(r => r.Text("material") == material);
            Assert.Equal(expected.FilamentUsed, row.Number("filament used"), 6);
            Assert.Equal(expected.FilamentWasted, row.Number("filament wasted"), 6);
            Assert.Equal(expected.Efficiency, row.Number("material efficiency"), 9);
        }

        var dragonsOnPla = AllOf(day.Farm, "1d").WithMulti("toy", "dragon").WithMulti("material", "PLA");
        Assert.Equal("dragon", Assert.Single(await RunAsync(database, Panel("Per toy", "A"), dragonsOnPla)).Text("toy"));
        Assert.Equal("PLA", Assert.Single(await RunAsync(database, Panel("Per material", "A"), dragonsOnPla)).Text("material"));
    }

    [Fact]
    public async Task The_printer_panels_show_each_printers_latest_telemetry_and_its_history()
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, "1h");
        var status = await RunAsync(database, Panel("Printer status"), t);
        Assert.Equal(FarmDay.Printers, status.Select(r => r.Text("printer")));
        foreach (var printer in FarmDay.Printers)
        {
            var last = day.Telemetry.Where(s => s.Printer == printer).MaxBy(s => s.Timestamp)!;
            var row = status.Single(r => r.Text("printer") == printer);
            Assert.Equal(last.State, row.Text("state"));
            Assert.Equal(last.Online, row["online"].GetBoolean());
            Assert.Equal(last.ProgressPercent!.Value, row.Number("progress"), 9);
            Assert.Equal(last.NozzleCelsius!.Value, row.Number("nozzle"), 9);
        }

        Assert.Equal("offline", status.Single(r => r.Text("printer") == "x1c-01").Text("state"));

        var temperatures = await RunAsync(database, Panel("Nozzle and bed temperatures"), t);
        Assert.Equal(FarmDay.Printers, temperatures.Select(r => r.Text("printer")).Distinct());
        var eightOClock = temperatures.Single(r => r.Text("printer") == "mk4-01" && r.Time() == FarmDay.Hour(8));
        var samples = day.Telemetry.Where(s => s.Printer == "mk4-01" && s.Timestamp >= FarmDay.Hour(8) && s.Timestamp < FarmDay.Hour(9)).ToList();
        Assert.Equal(samples.Average(s => s.NozzleCelsius!.Value), eightOClock.Number("nozzle"), 9);
        Assert.Equal(samples.Average(s => s.BedTargetCelsius!.Value), eightOClock.Number("bed target"), 9);

        var progress = await RunAsync(database, Panel("Job progress"), t.WithMulti("printer", "mk4-01", "x1c-01"));
        Assert.Equal(["mk4-01", "x1c-01"], progress.Select(r => r.Text("printer")).Distinct());
    }

    [Fact]
    public async Task The_recent_jobs_table_lists_the_ended_jobs_newest_first_and_follows_the_variables()
    {
        var (day, database) = await SeedAsync();
        var rows = await RunAsync(database, Panel("Recent jobs"), AllOf(day.Farm, "1h"));
        Assert.Equal(day.Jobs.OrderByDescending(j => j.End).Select(j => (j.End, j.Printer, j.JobId)), rows.Select(r => (r.Time(), r.Text("printer")!, r.Text("job_id")!)));
        Assert.Equal("failed", rows[0].Text("outcome"));
        Assert.Equal(JsonValueKind.Null, rows[0]["hours per toy"].ValueKind);
        var newest = rows.First(r => r.Text("outcome") == "completed");
        var job = day.Jobs.Where(j => j.Outcome == JobOutcome.Completed).MaxBy(j => j.End)!;
        Assert.Equal(job.JobId, newest.Text("job_id"));
        Assert.Equal(job.File, newest.Text("file"));
        Assert.Equal(job.Quantity, (int)newest.Number("toys"));
        Assert.Equal(job.PrintTimeSeconds / 3600, newest.Number("print hours"), 9);
        Assert.Equal(job.PrintTimeSeconds / job.Quantity / 3600, newest.Number("hours per toy"), 9);
        Assert.Equal(job.FilamentGrams, newest.Number("filament_g"), 9);
        Assert.Equal("measured", newest.Text("filament_source"));

        var filtered = await RunAsync(database, Panel("Recent jobs"), AllOf(day.Farm, "1h").WithMulti("printer", "mk4-01", "x1c-01").WithMulti("toy", "rocket"));
        Assert.Equal(
            day.Jobs.Where(j => j.Printer is "mk4-01" or "x1c-01" && j.Toy == "rocket").OrderByDescending(j => j.End).Select(j => j.JobId),
            filtered.Select(r => r.Text("job_id")!));
    }

    [Fact]
    public async Task The_variable_queries_list_the_farm_and_its_printers_toys_and_materials()
    {
        var (day, database) = await SeedAsync();
        var t = AllOf(day.Farm, "1h");
        var variables = GrafanaFiles.Variables().Where(v => v.Type == "query").ToDictionary(v => v.Name, StringComparer.Ordinal);
        async Task<IEnumerable<string>> Values(string name) =>
            (await services.Influx.QueryAsync(database, t.Render(variables[name].Query))).Select(r => r.Text("value")!);

        Assert.Equal(new[] { day.Farm }, await Values("farm"));
        Assert.Equal(FarmDay.Printers, await Values("printer"));
        Assert.Equal(new[] { "castle", "dragon", "rocket" }, await Values("toy"));
        Assert.Equal(new[] { "PETG", "PLA" }, await Values("material"));
    }

    [Fact]
    public async Task The_material_efficiency_alerts_judge_the_last_two_closed_hours_against_60_and_70_percent()
    {
        var (day, database) = await SeedAsync();
        var rules = GrafanaFiles.AlertRules().ToDictionary(r => r.Uid, StringComparer.Ordinal);
        var critical = rules["printfarm-material-efficiency-critical"];
        var warning = rules["printfarm-material-efficiency-warning"];
        Assert.Equal(("lt", 0.6, "critical"), (critical.ThresholdType, critical.ThresholdParams.Single(), critical.Labels["severity"]));
        Assert.Equal(("lt", 0.7, "warning"), (warning.ThresholdType, warning.ThresholdParams.Single(), warning.Labels["severity"]));

        // 10:30 sees 08:00 and 09:00 (efficient); 12:30 sees 10:00 and 11:00 (typical); 14:30 sees 12:00 and 13:00
        // (poor) but not the 14:00 window, still open, with its perfect job; 16:30 sees 14:00 and 15:00, two jobs: too
        // few to judge.
        var cases = new (int Hour, int FirstWindow, bool Critical, bool Warning)[]
        {
            (10, 8, false, false),
            (12, 10, false, true),
            (14, 12, true, true),
        };
        foreach (var (hour, first, firesCritical, firesWarning) in cases)
        {
            var now = FarmDay.Hour(hour).AddMinutes(30);
            var expected = day.ExpectHours(first, first + 1).Efficiency;
            foreach (var (rule, fires) in new[] { (critical, firesCritical), (warning, firesWarning) })
            {
                var (farm, value) = Assert.Single(await EvaluateAsync(rule, database, now));
                Assert.Equal(day.Farm, farm);
                Assert.Equal(expected, value, 9);
                Assert.True(rule.Fires(value) == fires, $"{rule} at {now:HH:mm}: efficiency {value:P1} should {(fires ? string.Empty : "not ")}fire");
            }
        }

        Assert.True(day.ExpectHours(12, 13).Efficiency < 0.6 && day.ExpectHours(12, 14).Efficiency > day.ExpectHours(12, 13).Efficiency);
        Assert.Empty(await EvaluateAsync(critical, database, FarmDay.Hour(16).AddMinutes(30)));
    }

    [Fact]
    public async Task The_success_rate_alert_fires_when_fewer_than_80_percent_of_the_jobs_complete()
    {
        var (day, database) = await SeedAsync();
        var rule = GrafanaFiles.AlertRules().Single(r => r.Uid == "printfarm-success-rate-warning");
        Assert.Equal(("lt", 0.8), (rule.ThresholdType, rule.ThresholdParams.Single()));

        foreach (var (hour, first, fires) in new[] { (10, 8, false), (12, 10, true), (14, 12, true) })
        {
            var now = FarmDay.Hour(hour).AddMinutes(30);
            var (_, value) = Assert.Single(await EvaluateAsync(rule, database, now));
            Assert.Equal(day.ExpectHours(first, first + 1).SuccessRate, value, 9);
            Assert.True(rule.Fires(value) == fires, $"success rate {value:P1} at {now:HH:mm} should {(fires ? string.Empty : "not ")}fire");
        }

        Assert.Empty(await EvaluateAsync(rule, database, FarmDay.Hour(16).AddMinutes(30)));
    }

    [Fact]
    public void Every_alert_rule_says_what_fired_how_bad_it_is_and_waits_before_firing()
    {
        // The KPI rules (3 fixed thresholds, 3 drop rules × 4 scopes, 1 stopped-reporting rule); the ingestion-health
        // rules are checked by IngestHealthBoardTests.
        var rules = GrafanaFiles.AlertRules().Where(r => !IngestHealthBoardTests.IsIngestRule(r)).ToList();
        Assert.Equal(16, rules.Count);
        Assert.Equal(rules.Count, rules.Select(r => r.Uid).Distinct().Count());
        Assert.Equal(rules.Count, rules.Select(r => r.Title).Distinct().Count());
        Assert.All(rules, rule =>
        {
            Assert.All(rule.Queries, q => Assert.Equal(GrafanaFiles.DatasourceUid, q.DatasourceUid));
            Assert.Contains(rule.Labels["severity"], new[] { "critical", "warning" });
            Assert.Equal("printfarm", rule.Labels["service"]);
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations["summary"]), $"{rule} has no summary");
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations["description"]), $"{rule} has no description");
            Assert.Matches(@"^\d+[smh]$", rule.For);
            Assert.Equal("last", rule.Reducer);
            Assert.All(rule.Queries, q => Assert.Contains("$timeFilter", q.Query, StringComparison.Ordinal));
            if (rule.Uid != "printfarm-printer-stopped-reporting")
            {
                // KPI rules read closed hourly windows only: every range ends at least one window before now.
                Assert.All(rule.Queries, q => Assert.True(q.RangeTo >= TimeSpan.FromHours(1), $"{rule} {q.RefId} reads the open hourly window"));
                Assert.All(rule.Queries, q => Assert.Contains("\"window\" = '1h'", q.Query, StringComparison.Ordinal));
            }
        });

        // Drop rules: recent = the last 3 closed hours, baseline = the 7 days before, no window in both; hysteresis.
        foreach (var rule in rules.Where(r => r.Queries.Count == 2 && r.Uid != "printfarm-printer-stopped-reporting"))
        {
            var recent = rule.Queries.Single(q => q.RefId == "A");
            var baseline = rule.Queries.Single(q => q.RefId == "B");
            Assert.Equal((TimeSpan.FromHours(4), TimeSpan.FromHours(1)), (recent.RangeFrom, recent.RangeTo));
            Assert.Equal(recent.RangeFrom + TimeSpan.FromDays(7), baseline.RangeFrom);
            Assert.True(baseline.RangeTo > recent.RangeFrom, $"{rule}: a window stamped at the boundary would count in both ranges");
            Assert.NotNull(rule.RecoveryType);
            Assert.NotEqual(rule.ThresholdType, rule.RecoveryType);
        }

        var uids = rules.Select(r => r.Uid).ToHashSet();
        foreach (var scope in new[] { "farm", "printer", "toy", "material" })
        {
            Assert.Contains($"printfarm-efficiency-drop-{scope}", uids);
            Assert.Contains($"printfarm-print-time-rise-{scope}", uids);
            Assert.Contains($"printfarm-success-rate-drop-{scope}", uids);
        }

        // The drop rules mirror the worker's defaults (docs/operations.md): -15 points / +25 %, recovering at -10 / +15 %.
        var efficiency = rules.Single(r => r.Uid == "printfarm-efficiency-drop-printer");
        Assert.Equal(("$RA - $RB", "lt", -0.15, "gt", -0.1), (efficiency.Math, efficiency.ThresholdType, efficiency.ThresholdParams[0], efficiency.RecoveryType, efficiency.RecoveryParams[0]));
        var rise = rules.Single(r => r.Uid == "printfarm-print-time-rise-toy");
        Assert.Equal(("$RA / $RB", "gt", 1.25, "lt", 1.15), (rise.Math, rise.ThresholdType, rise.ThresholdParams[0], rise.RecoveryType, rise.RecoveryParams[0]));
    }

    [Fact]
    public void Notifications_are_one_contact_point_and_a_policy_routing_every_printfarm_alert_to_it()
    {
        var file = GrafanaFiles.Yaml(GrafanaFiles.NotificationsPath);
        var contact = GrafanaFiles.Map(GrafanaFiles.Seq(file["contactPoints"]).Single());
        var name = GrafanaFiles.Str(contact["name"]);
        Assert.Single(GrafanaFiles.Seq(contact["receivers"]));

        var policy = GrafanaFiles.Map(GrafanaFiles.Seq(file["policies"]).Single());
        Assert.Equal(name, GrafanaFiles.Str(policy["receiver"]));
        var routes = GrafanaFiles.Seq(policy["routes"]).Select(GrafanaFiles.Map).ToList();
        Assert.All(routes, r => Assert.Equal(name, GrafanaFiles.Str(r["receiver"])));

        // Every rule's labels match a route: service=printfarm, and critical ones the critical route.
        bool Matches(Dictionary<string, object> route, IReadOnlyDictionary<string, string> labels) =>
            GrafanaFiles.Seq(route["object_matchers"]).Select(GrafanaFiles.Seq).All(m =>
                GrafanaFiles.Str(m[1]) == "=" && labels.TryGetValue(GrafanaFiles.Str(m[0]), out var v) && v == GrafanaFiles.Str(m[2]));
        foreach (var rule in GrafanaFiles.AlertRules())
        {
            var first = routes.First(r => Matches(r, rule.Labels));
            Assert.Equal(rule.Labels["severity"] == "critical" ? "1h" : null, first.TryGetValue("repeat_interval", out var repeat) ? GrafanaFiles.Str(repeat) : null);
        }
    }

    [Fact]
    public async Task The_success_rate_stat_and_columns_are_empty_rather_than_zero_while_no_job_ended()
    {
        var (day, database) = await SeedAsync();
        // 07:00–08:00: printers report and print, windows exist with zero counts, but no job ends.
        var t = new GrafanaTemplate(FarmDay.Hour(7), FarmDay.Hour(8).AddMilliseconds(-1), TimeSpan.FromHours(1))
            .With("farm", day.Farm).With("window", "1h").WithAll("printer", ".*").WithAll("toy", ".*").WithAll("material", ".*");
        Assert.DoesNotContain(day.Jobs, j => j.End < FarmDay.Hour(8));
        var jobs = await SingleRowAsync(database, "Jobs", t);
        Assert.Equal(0, jobs.Number("completed") + jobs.Number("failed") + jobs.Number("cancelled"));
        Assert.Empty(await RunAsync(database, Panel("Success rate"), t));

        var printers = await RunAsync(database, Panel("Per-printer KPIs", "A"), t);
        Assert.Equal(FarmDay.Printers, printers.Select(r => r.Text("printer")));
        Assert.Empty(await RunAsync(database, Panel("Per-printer KPIs", "C"), t));
        Assert.Empty(await RunAsync(database, Panel("Per-printer KPIs", "D"), t));
    }

    [Fact]
    public void Every_time_series_query_is_aliased_so_legends_and_overrides_use_the_column_names()
    {
        foreach (var (id, type, title, queries, overrides, calculated) in GrafanaFiles.Panels().Where(p => p.Queries.Count > 0))
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var q in queries)
            {
                var columns = OuterColumns(q.Query);
                var groupTags = GroupByTags(q.Query);
                if (q.ResultFormat == "time_series")
                {
                    // Without an alias Grafana names a series "<measurement>.<column> { tags }" ("kpi.completed").
                    Assert.False(string.IsNullOrEmpty(q.Alias), $"{q} has no alias: its series would be named {q.Query.Split("FROM")[1].Trim().Split(' ')[0]}.<column>");
                    Assert.True(columns.Count == 1 || q.Alias!.Contains("$col", StringComparison.Ordinal), $"{q}: several columns need $col in the alias");
                    Assert.All(groupTags, tag => Assert.True(q.Alias!.Contains("$tag_" + tag, StringComparison.Ordinal), $"{q}: series per {tag} need $tag_{tag} in the alias"));
                    foreach (var column in columns)
                    {
                        names.Add(groupTags.Aggregate(q.Alias!.Replace("$col", column, StringComparison.Ordinal), (n, tag) => n.Replace("$tag_" + tag, "x", StringComparison.Ordinal)));
                    }
                }
                else
                {
                    names.UnionWith(columns);
                    names.UnionWith(groupTags);
                    names.Add("Time");
                }
            }

            names.UnionWith(calculated);
            Assert.All(names, n => Assert.DoesNotContain("kpi.", n, StringComparison.Ordinal));
            Assert.All(overrides, o => Assert.True(names.Contains(o), $"panel {id} '{title}' ({type}): override '{o}' matches none of {string.Join(", ", names)}"));
        }
    }

    [Fact]
    public async Task The_worker_alerts_panel_and_annotations_show_the_alert_points()
    {
        var (day, database) = await SeedAsync();
        // FarmDay's 10–11 typical and 12–13 poor hours against 08–10: the worker's own evaluator fires at 14:00.
        Assert.NotEmpty(day.Alerts);
        var t = AllOf(day.Farm, "1h");
        var rows = await RunAsync(database, Panel("Built-in alerts (worker)"), t);
        Assert.Equal(day.Alerts.Count, rows.Count);
        foreach (var alert in day.Alerts)
        {
            var row = Assert.Single(rows, r => r.Text("rule") == alert.Rule && r.Text("scope") == PrintFarm.Core.LineProtocol.PointEncoder.ScopeName(alert.Scope));
            Assert.Equal(alert.At, row.Time());
            Assert.Equal(alert.StateName, row.Text("state"));
            Assert.Equal(alert.Value!.Value, row.Number("value"), 9);
            Assert.Equal(alert.Message, row.Text("message"));
        }

        var annotation = Assert.Single(GrafanaFiles.AnnotationQueries());
        var marks = await services.Influx.QueryAsync(database, t.Render(annotation.Query));
        Assert.Equal(day.Alerts.Count, marks.Count);
        Assert.All(marks, m => Assert.False(string.IsNullOrEmpty(m.Text(annotation.TextColumn))));
        Assert.All(annotation.TagsColumn.Split(','), column => Assert.Contains(column, marks[0].Keys));
    }

    [Fact]
    public async Task The_stopped_reporting_rule_fires_for_a_printer_silent_for_15_minutes_mid_job_only()
    {
        var (day, database) = await SeedAsync();
        var rule = GrafanaFiles.AlertRules().Single(r => r.Uid == "printfarm-printer-stopped-reporting");

        // Telemetry ends at 14:50 for every printer. mk4-02 is then 50 % into its 14:35–15:05 job; mk4-01 is idle and
        // x1c-01 is offline (progress 0).
        foreach (var (now, silentFor) in new[] { (FarmDay.Hour(14).AddMinutes(55), 5), (FarmDay.Hour(15).AddMinutes(10), 20) })
        {
            var expected = FarmDay.Printers.Where(p =>
            {
                var samples = day.Telemetry.Where(s => s.Printer == p && s.Timestamp <= now).ToList();
                var last = samples.MaxBy(s => s.Timestamp)!;
                return now - last.Timestamp >= TimeSpan.FromMinutes(15) && last.ProgressPercent is > 0 and < 100;
            }).ToList();
            var instances = await RuleEvaluation.EvaluateAsync(services.Influx, rule, database, now);
            Assert.Equal(FarmDay.Printers, instances.Select(i => i.Label("printer")).Order());
            Assert.Equal(expected, instances.Where(i => rule.Fires(i.Value)).Select(i => i.Label("printer")));
            Assert.Equal(silentFor >= 15 ? ["mk4-02"] : Array.Empty<string>(), expected);
        }
    }

    /// <summary>Names of the outer SELECT's columns: the AS name, else the field or function name.</summary>
    private static List<string> OuterColumns(string query)
    {
        var select = query[(query.IndexOf("SELECT ", StringComparison.Ordinal) + 7)..];
        var depth = 0;
        var items = new List<string>();
        var start = 0;
        for (var i = 0; i < select.Length; i++)
        {
            var c = select[i];
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (depth == 0 && c == ',') { items.Add(select[start..i]); start = i + 1; }
            else if (depth == 0 && select.AsSpan(i).StartsWith(" FROM ", StringComparison.Ordinal)) { items.Add(select[start..i]); break; }
        }

        return items.Select(item =>
        {
            var a = System.Text.RegularExpressions.Regex.Match(item, "AS \"([^\"]+)\"\\s*$");
            if (a.Success) return a.Groups[1].Value;
            var f = System.Text.RegularExpressions.Regex.Match(item.Trim(), "^\"([^\"]+)\"$");
            if (f.Success) return f.Groups[1].Value;

            // An expression such as "x" / 3600 is named after its field; a function call after the function.
            var paren = item.Trim().IndexOf('(', StringComparison.Ordinal);
            return paren > 0 ? item.Trim()[..paren] : System.Text.RegularExpressions.Regex.Match(item, "\"([^\"]+)\"").Groups[1].Value;
        }).ToList();
    }

    /// <summary>Tags of the outer GROUP BY (time(...) left out).</summary>
    private static List<string> GroupByTags(string query)
    {
        var i = query.LastIndexOf("GROUP BY ", StringComparison.Ordinal);
        if (i < 0 || query[..i].Count(c => c == '(') != query[..i].Count(c => c == ')')) return [];
        return System.Text.RegularExpressions.Regex.Matches(query[i..], "\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
    }

    private async Task<(FarmDay Day, string Database)> SeedAsync()
    {
        var database = "grafana_" + Guid.NewGuid().ToString("N");
        var day = new FarmDay("farm-" + Guid.NewGuid().ToString("N")[..8]);
        await services.Influx.CreateDatabaseAsync(database);
        await day.WriteAsync(services.Influx.Url, database);
        await Orders.OrderFarmDay.WriteAsync(day, services.Influx.Url, database);
        await IngestHealthBoardTests.WriteIngestPointsAsync(services.Influx.Url, database, day.Farm, FarmDay.Day, FarmDay.Day.AddDays(1), TimeSpan.FromMinutes(1));
        return (day, database);
    }

    /// <summary>The dashboard over the farm day, with All selected for every multi-value variable.</summary>
    private static GrafanaTemplate AllOf(string farm, string window)
    {
        var (from, to) = FarmDay.Range;
        var template = new GrafanaTemplate(from, to, TimeSpan.FromHours(1)).With("farm", farm).With("window", window);
        foreach (var name in MultiValueVariables)
        {
            template.WithAll(name, ".*");
        }

        return template;
    }

    private static IEnumerable<(string Name, GrafanaTemplate Template)> Scenarios(string farm)
    {
        yield return ("1h, all", AllOf(farm, "1h"));
        yield return ("1d, all", AllOf(farm, "1d"));
        yield return ("1h, one printer", AllOf(farm, "1h").WithMulti("printer", "mk4-01"));
        yield return ("1d, two printers, one toy, one material", AllOf(farm, "1d").WithMulti("printer", "mk4-01", "x1c-01").WithMulti("toy", "dragon").WithMulti("material", "PLA"));
    }

    private static PanelQuery Panel(string title, string refId = "A")
    {
        var matches = GrafanaFiles.PanelQueries().Where(q => q.PanelTitle == title && q.RefId == refId).ToList();
        Assert.True(matches.Count == 1, $"expected one panel '{title}' with query {refId}, found {matches.Count}");
        return matches[0];
    }

    private Task<IReadOnlyList<Dictionary<string, JsonElement>>> RunAsync(string database, PanelQuery query, GrafanaTemplate template) =>
        services.Influx.QueryAsync(database, template.Render(query.Query));

    private async Task<Dictionary<string, JsonElement>> SingleRowAsync(string database, string panel, GrafanaTemplate template)
    {
        var rows = await RunAsync(database, Panel(panel), template);
        Assert.True(rows.Count == 1, $"'{panel}' returned {rows.Count} rows:\n{rows.Format()}");
        return rows[0];
    }

    /// <summary>
    /// What Grafana's evaluation of a rule sees at <paramref name="now"/>: the query over its relative time range,
    /// reduced to one value per series (per farm). The caller applies the threshold.
    /// </summary>
    private async Task<IReadOnlyList<(string Farm, double Value)>> EvaluateAsync(AlertRule rule, string database, DateTimeOffset now)
    {
        Assert.Equal("last", rule.Reducer);
        var instances = await RuleEvaluation.EvaluateAsync(services.Influx, rule, database, now);
        return instances.Select(i => (i.Label("farm"), i.Value)).ToList();
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Title(JsonElement panel) => panel.TryGetProperty("title", out var t) ? t.GetString() ?? string.Empty : string.Empty;

    private static string PanelType(JsonElement panel) => panel.GetProperty("type").GetString()!;

    private static double?[] ThresholdSteps(JsonElement panel) =>
        panel.GetProperty("fieldConfig").GetProperty("defaults").GetProperty("thresholds").GetProperty("steps").EnumerateArray()
            .Select(s => s.GetProperty("value").ValueKind == JsonValueKind.Null ? (double?)null : s.GetProperty("value").GetDouble())
            .ToArray();

    /// <summary>Compares doubles to a number of decimal places, for sequence assertions.</summary>
    private sealed class Near(int decimals) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Round(x - y, decimals) == 0;

        public int GetHashCode(double obj) => 0;
    }
}
