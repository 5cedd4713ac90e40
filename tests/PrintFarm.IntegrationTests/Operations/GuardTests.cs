using System.Text.Json;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>The cardinality caps and the printer allow-list in the running worker: folded values land as <c>other</c>, warned once and counted; unknown printers are dead-lettered.</summary>
[Collection(ServicesCollection.Name)]
public sealed class GuardTests(ServicesFixture services)
{
    [Fact]
    public async Task Printers_past_the_cap_land_as_other_with_one_warning_and_a_counter_and_unlisted_printers_are_dead_lettered()
    {
        var database = "guards_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var id = Guid.NewGuid().ToString("N")[..6];
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Health:IngestInterval"] = "00:00:00.2";
        settings["PrintFarm:Guards:MaxPrinters"] = "1";
        settings["PrintFarm:Guards:AllowedPrinters:0"] = "a-" + id;
        settings["PrintFarm:Guards:AllowedPrinters:1"] = "b-" + id;
        settings["PrintFarm:Guards:AllowedPrinters:2"] = "c-" + id;
        await using var worker = await WorkerHost.StartAsync(settings);

        var ts = new DateTimeOffset(2026, 8, 8, 8, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            // Distinct end times: folded printers share the series, and InfluxDB keeps one point per series and time.
            var printers = new[] { "a-" + id, "b-" + id, "c-" + id, "stranger-" + id };
            for (var i = 0; i < printers.Length; i++)
            {
                await publisher.PublishJsonAsync(NativeTrace.Topic(printers[i]), new { type = "job_finished", ts = ts + i, job_id = "j-" + printers[i], outcome = "completed", print_time_s = 60, file = "elk.gcode" });
            }
        }

        var jobs = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT * FROM job"), rows => rows.Count == 3 && rows.All(InfluxRowExtensions.IsWholeJobPoint), "three allowed jobs", describe: r => r.Format());
        Assert.Equal(["a-" + id, "other", "other"], jobs.Select(r => r.Text("printer")!).Order(StringComparer.Ordinal));
        Assert.Equal(1, worker.Counter("printfarm.messages.rejected[reason=unknown_printer]"));
        var letter = JsonDocument.Parse(Assert.Single(File.ReadAllLines(Assert.Single(Directory.GetFiles(Path.Combine(worker.DataFolder, "deadletter"), "messages-*.jsonl"))))).RootElement;
        Assert.Equal("unknown_printer", letter.GetProperty("reason").GetString());
        Assert.Equal(NativeTrace.Topic("stranger-" + id), letter.GetProperty("topic").GetString());

        var warnings = await Eventually.Until(
            () => Task.FromResult(worker.Logs.AtLeast(LogLevel.Warning).Where(l => l.Contains("PrintFarm:Guards:MaxPrinters", StringComparison.Ordinal)).ToList()),
            w => w.Count > 0,
            "the cap warning");
        Assert.Single(warnings);
        Assert.Contains("b-" + id, warnings[0], StringComparison.Ordinal);
        var ingest = await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT folded_values FROM ingest"), r => r.Any(row => row.Number("folded_values") >= 2), "the folds in the ingest point");
        Assert.Equal(2, ingest.Max(r => r.Number("folded_values")));
    }
}
