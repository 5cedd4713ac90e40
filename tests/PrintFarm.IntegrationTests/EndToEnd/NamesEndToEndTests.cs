using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>
/// Names never cost a job: printer ids, toys, materials and files with commas, spaces, <c>=</c>, quotes,
/// backslashes, line breaks, non-Latin letters, emoji and 10 KB strings, published to a real Mosquitto and stored by
/// the real worker in a real InfluxDB 1.x, come back exactly as the sanitizing rules of docs/data-model.md say, with
/// no extra series, tags or fields.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class NamesEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Day = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Odd_names_are_stored_as_their_documented_sanitized_values_and_every_job_is_kept()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var prefix = "n" + Guid.NewGuid().ToString("N")[..6];
        var tenKb = new string('x', 10_000);

        // Topic printer id, toy, material, file as published → the stored printer, toy, material and file.
        (string Printer, string Toy, string Material, string File, string ExpectedPrinter, string ExpectedToy, string ExpectedMaterial, string ExpectedFile)[] cases =
        [
            ($"{prefix} shelf 2,row=3", "dragon, big = \"red\" \\ v2", "pla", "a b,c=d\"e\\f.gcode",
                $"{prefix} shelf 2,row=3", "dragon, big = \"red\" \\ v2", "PLA", "a b,c=d\"e\\f.gcode"),
            ($"{prefix}\"quoted\\back", "dra\ngon\r\nline\t", " pe\ttg ", "two\nlines.gcode",
                $"{prefix}\"quoted\\back", "dra gon  line", "PE TG", "two lines.gcode"),
            ($"{prefix}-Drucker-ß-打印机-🦄", "龍🐉", "asa", "ドラゴン🐉.gcode",
                $"{prefix}-Drucker-ß-打印机-🦄", "龍🐉", "ASA", "ドラゴン🐉.gcode"),
            ($"{prefix}-{tenKb}", new string('t', 10_000), new string('m', 10_000), new string('f', 10_000) + "\\",
                $"{prefix}-{tenKb}"[..128], new string('t', 128), new string('M', 128), new string('f', 512)),
        ];

        await using var worker = await WorkerHost.StartAsync(settings);
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            for (var i = 0; i < cases.Length; i++)
            {
                var c = cases[i];
                await publisher.PublishJsonAsync($"printfarm/{c.Printer}/event", new
                {
                    type = "job_finished",
                    ts = Day.AddMinutes(i).ToString("O"),
                    outcome = "completed",
                    toy = c.Toy,
                    material = c.Material,
                    file = c.File,
                    quantity = 2,
                    print_time_s = 600.0,
                    filament_g = 10.0,
                });
            }
        }

        var jobs = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM job"),
            rows => rows.Count >= cases.Length && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            $"{cases.Length} job points",
            describe: rows => rows.Format());
        Assert.Equal(cases.Length, jobs.Count);
        foreach (var c in cases)
        {
            var row = Assert.Single(jobs, r => r.Text("printer") == c.ExpectedPrinter);
            Assert.Equal(c.ExpectedToy, row.Text("toy"));
            Assert.Equal(c.ExpectedMaterial, row.Text("material"));
            Assert.Equal(c.ExpectedFile, row.Text("file"));
            Assert.Equal(("completed", "native", 2.0), (row.Text("outcome"), row.Text("source"), row.Number("toys")));
        }

        // No name leaked into the structure of a line: the tags and fields are the documented ones, one series per job.
        var tagKeys = await services.Influx.QueryAsync(database, "SHOW TAG KEYS FROM job");
        Assert.Equal(["farm", "material", "outcome", "printer", "source", "toy"], tagKeys.Select(r => r.Text("tagKey")).Order(StringComparer.Ordinal));
        var fieldKeys = await services.Influx.QueryAsync(database, "SHOW FIELD KEYS FROM job");
        Assert.Subset(
            new HashSet<string?>(["job_id", "file", "print_time_s", "toys", "print_time_per_toy_s", "filament_g", "filament_mm", "filament_source", "estimated_time_s", "estimate_ratio", "material_cost"]),
            fieldKeys.Select(r => r.Text("fieldKey")).ToHashSet());
        Assert.Equal(cases.Length, (await services.Influx.QueryAsync(database, "SHOW SERIES FROM job")).Count);
        var measurements = await services.Influx.QueryAsync(database, "SHOW MEASUREMENTS");
        Assert.Subset(new HashSet<string?>(["job", "kpi", "printer"]), measurements.Select(r => r.Text("name")).ToHashSet());

        // The printers' KPI series carry the same exact printer ids.
        var kpiPrinters = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SHOW TAG VALUES FROM kpi WITH KEY = \"printer\""),
            rows => rows.Count >= cases.Length,
            "the printers' KPI series",
            describe: rows => rows.Format());
        Assert.Equal(cases.Select(c => c.ExpectedPrinter).Order(StringComparer.Ordinal), kpiPrinters.Select(r => r.Text("value")).Order(StringComparer.Ordinal));

        Assert.Equal(cases.Length, worker.Counter("printfarm.jobs.ended"));
        Assert.Equal(0, worker.Counter("printfarm.messages.rejected[reason=invalid_field]"));
        Assert.Equal(0, worker.Counter("printfarm.messages.rejected[reason=unknown_topic]"));
    }
}
