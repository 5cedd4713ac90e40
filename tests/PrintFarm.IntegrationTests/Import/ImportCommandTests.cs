using System.Globalization;
using System.Text.Json;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;
using PrintFarm.Worker.Import;

namespace PrintFarm.IntegrationTests.Import;

/// <summary>
/// <c>PrintFarm.Worker import</c> as a real process against a real InfluxDB 1.x, one fixture file per format: the jobs
/// and day windows the file holds, a second import that changes nothing, a refusal while a worker holds the folder,
/// a worker that goes on from an import's state, and KPIs equal to those of a live worker fed the same history over a
/// real Mosquitto (a simulator trace as it is; a Moonraker history as the native events of the same jobs).
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ImportCommandTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Jan5 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Jan6 = Jan5.AddDays(1);

    public static TheoryData<string, string, string?, int, int> Formats => new()
    {
        // kind, fixture, --printer, jobs imported, entries skipped
        { "moonraker", "moonraker-history.json", "voron-02", 5, 2 },
        { "octoprint-csv", "printjobhistory.csv", "mk3s-01", 4, 1 },
        { "trace", "trace.jsonl", null, 3, 2 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Import_writes_the_files_jobs_and_day_windows_and_a_second_import_changes_nothing(string kind, string fixture, string? printer, int jobs, int skippedEntries)
    {
        var (database, settings) = await NewTargetAsync();
        var file = Fixture(fixture);
        string[] args = printer is null ? ["import", kind, file] : ["import", kind, file, "--printer", printer];

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(settings, args);
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        Assert.Contains($"{jobs} jobs imported, {skippedEntries} entries skipped", stdout, StringComparison.Ordinal);
        Assert.Contains("handed to the worker", stdout, StringComparison.Ordinal);

        var jobRows = await services.Influx.QueryAsync(database, "SELECT * FROM job");
        Assert.Equal(jobs, jobRows.Count);
        var days = await DayRowsAsync(database);
        var (day1, day2) = Expected(kind);
        Assert.Equal(day1, Counts(days, Jan5));
        Assert.Equal(day2, Counts(days, Jan6));

        var kpisBefore = Snapshot(await services.Influx.QueryAsync(database, "SELECT * FROM kpi"));
        var jobsBefore = Snapshot(jobRows);
        (code, stdout, stderr) = await WorkerCommand.RunAsync(settings, args);
        Assert.True(code == 0, $"second import: exit {code}: {stdout}{stderr}");
        Assert.Contains("(the cut): nothing written from there", stdout, StringComparison.Ordinal); // the handed-over windows are the worker's now
        Assert.Equal(kpisBefore, Snapshot(await services.Influx.QueryAsync(database, "SELECT * FROM kpi")));
        Assert.Equal(jobsBefore, Snapshot(await services.Influx.QueryAsync(database, "SELECT * FROM job")));
    }

    [Fact]
    public async Task A_worker_started_after_an_import_on_a_fresh_folder_goes_on_with_the_windows_the_history_left_open()
    {
        var (database, settings) = await NewTargetAsync();
        var (code, stdout, stderr) = await WorkerCommand.RunAsync(settings, "import", "moonraker", Fixture("moonraker-history.json"), "--printer", "voron-02");
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");

        var workerSettings = WorkerHost.BaseSettings(services.Mqtt, settings["PrintFarm__DataFolder"]);
        foreach (var (key, value) in settings)
        {
            workerSettings[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        }

        await using (var worker = await WorkerHost.StartAsync(workerSettings))
        {
            // A job on 6 January after the history's last one: the day window the import left open counts it too.
            await using var client = await TestPublisher.ConnectAsync(services.Mqtt);
            await client.PublishAsync("printfarm/voron-02/event", """{"type":"job_started","ts":"2026-01-06T11:30:00Z","job_id":"live-1","file":"benchy_x4_PLA.gcode"}"""u8.ToArray());
            await client.PublishAsync("printfarm/voron-02/event", """{"type":"job_finished","ts":"2026-01-06T12:30:00Z","job_id":"live-1","file":"benchy_x4_PLA.gcode","outcome":"completed","filament_g":30}"""u8.ToArray());
            await worker.WaitForCounterAsync("printfarm.jobs.ended", 1, TimeSpan.FromSeconds(30));
            Assert.Equal(0, worker.Counter("printfarm.kpi.late_events"));
        }

        var days = await Eventually.Until(() => DayRowsAsync(database), d => d.TryGetValue(Jan6, out var r) && r.OptionalNumber("jobs_completed") == 2, "the 6 January window with the imported and the live job");
        Assert.Equal((2L, 0L, 0L, 8L), Counts(days, Jan6));
        Assert.Equal(Expected("moonraker").Day1, Counts(days, Jan5)); // the closed day is left as imported
    }

    [Fact]
    public async Task Import_is_refused_while_a_worker_holds_the_data_folder_and_writes_nothing()
    {
        var (database, settings) = await NewTargetAsync();
        var workerSettings = WorkerHost.BaseSettings(services.Mqtt, settings["PrintFarm__DataFolder"]);
        workerSettings["PrintFarm:Influx:ApiVersion"] = "v1";
        workerSettings["PrintFarm:Influx:Url"] = services.Influx.Url;
        workerSettings["PrintFarm:Influx:Database"] = database;
        await using var worker = await WorkerHost.StartAsync(workerSettings);

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(settings, "import", "moonraker", Fixture("moonraker-history.json"), "--printer", "voron-02");
        Assert.True(code == 2, $"exit {code}: {stdout}{stderr}");
        Assert.Contains("is in use by another process", stdout + stderr, StringComparison.Ordinal);
        Assert.Empty(await services.Influx.QueryAsync(database, "SELECT * FROM job"));
    }

    [Fact]
    public async Task Bad_arguments_exit_64_and_name_the_problem()
    {
        var (_, settings) = await NewTargetAsync();
        var (code, _, stderr) = await WorkerCommand.RunAsync(settings, "import", "moonraker", Fixture("moonraker-history.json"));
        Assert.Equal(64, code);
        Assert.Contains("moonraker needs --printer ID", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await WorkerCommand.RunAsync(settings, "import", "gcode", "x");
        Assert.Equal(64, code);
        Assert.Contains("kind 'gcode' is not one of trace, moonraker, octoprint-csv", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await WorkerCommand.RunAsync(settings, "import", "trace", Path.Combine(ServerProcess.NewFolder("none"), "missing.jsonl"));
        Assert.Equal(66, code);
        Assert.Contains("cannot read", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_imported_trace_gives_the_same_kpis_as_a_live_worker_fed_the_same_trace_over_mqtt()
    {
        var now = DateTimeOffset.UtcNow;
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 4,
            Mix = FormatMix.Parse("octoprint=1,native=1"),
            Seed = 7,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Start = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero).AddHours(-9),
            Duration = TimeSpan.FromHours(6),
            FailureRate = 0.15,
            CancelRate = 0.15,
            PauseRate = 0.3,
            FlapRate = 0.2,
            MalformedRate = 0.1,
            PrinterPrefix = "eq" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        var trace = Path.Combine(ServerProcess.NewFolder("trace"), "farm.jsonl");
        using (var file = File.Create(trace))
        {
            TraceWriter.Write(simulation, file);
        }

        // Live: the same messages, published as fast as the broker takes them, into a running worker.
        var (liveDatabase, liveSettings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        liveSettings["PrintFarm:Windows:0"] = "1h";
        liveSettings["PrintFarm:Windows:1"] = "1d";
        await using (var worker = await WorkerHost.StartAsync(liveSettings))
        {
            await using var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port);
            var baseline = worker.Counter("printfarm.mqtt.messages.received");
            var published = 0;
            foreach (var m in simulation.Messages())
            {
                // Not retained, as the import takes them (and no copy stays on the shared broker for later tests).
                await publisher.PublishAsync(m with { Qos = 1, Retain = false });
                published++;
            }

            await worker.WaitForCounterAsync("printfarm.mqtt.messages.received", baseline + published, TimeSpan.FromSeconds(60));
            await Eventually.Until(() => Task.FromResult(ProcessedAll(worker)), done => done, "the live worker to process every message");
        }

        // Import: the trace file into a fresh database and data folder.
        var (importDatabase, importSettings) = await NewTargetAsync(farm: "test-farm");
        var (code, stdout, stderr) = await WorkerCommand.RunAsync(importSettings, "import", "trace", trace);
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");

        var live = Snapshot(await services.Influx.QueryAsync(liveDatabase, "SELECT * FROM kpi"));
        var imported = Snapshot(await services.Influx.QueryAsync(importDatabase, "SELECT * FROM kpi"));
        Assert.True(live.Count > 50, $"only {live.Count} live kpi rows");
        Assert.Equal(live, imported);
        Assert.Equal(
            Snapshot(await services.Influx.QueryAsync(liveDatabase, "SELECT * FROM job")),
            Snapshot(await services.Influx.QueryAsync(importDatabase, "SELECT * FROM job")));
    }

    [Fact]
    public async Task An_imported_moonraker_history_gives_the_same_kpis_as_a_live_worker_fed_the_same_jobs_as_native_events()
    {
        var printer = "mr" + Guid.NewGuid().ToString("N")[..6];
        List<HistoryJob> jobs;
        using (var fixture = File.OpenRead(Fixture("moonraker-history.json")))
        {
            jobs = HistoryFiles.ReadMoonraker(fixture, []);
        }

        var events = new List<(DateTimeOffset At, int Order, string Payload)>();
        foreach (var j in jobs)
        {
            var common = new Dictionary<string, object?> { ["job_id"] = j.JobId, ["file"] = j.File, ["material"] = j.Material, ["estimated_time_s"] = j.EstimatedTimeSeconds };
            events.Add((j.Start, 1, JsonSerializer.Serialize(new Dictionary<string, object?>(common) { ["type"] = "job_started", ["ts"] = j.Start.ToString("O", CultureInfo.InvariantCulture) })));
            var outcome = j.Outcome switch { Core.Events.JobOutcome.Completed => "completed", Core.Events.JobOutcome.Failed => "failed", _ => "cancelled" };
            events.Add((j.End, 0, JsonSerializer.Serialize(new Dictionary<string, object?>(common)
            {
                ["type"] = "job_finished",
                ["ts"] = j.End.ToString("O", CultureInfo.InvariantCulture),
                ["outcome"] = outcome,
                ["print_time_s"] = j.PrintTimeSeconds,
                ["filament_mm"] = j.FilamentMillimetres,
            })));
        }

        // Live: the same jobs as a native printer would report them, into a running worker.
        var (liveDatabase, liveSettings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        liveSettings["PrintFarm:Windows:0"] = "1h";
        liveSettings["PrintFarm:Windows:1"] = "1d";
        await using (var worker = await WorkerHost.StartAsync(liveSettings))
        {
            await using var client = await TestPublisher.ConnectAsync(services.Mqtt);
            foreach (var (_, _, payload) in events.OrderBy(e => e.At).ThenBy(e => e.Order))
            {
                await client.PublishAsync($"printfarm/{printer}/event", System.Text.Encoding.UTF8.GetBytes(payload));
            }

            await worker.WaitForCounterAsync("printfarm.jobs.ended", jobs.Count, TimeSpan.FromSeconds(30));
        }

        var (importDatabase, importSettings) = await NewTargetAsync(farm: "test-farm");
        var (code, stdout, stderr) = await WorkerCommand.RunAsync(importSettings, "import", "moonraker", Fixture("moonraker-history.json"), "--printer", printer);
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");

        var live = Snapshot(await services.Influx.QueryAsync(liveDatabase, "SELECT * FROM kpi"));
        Assert.True(live.Count > 20, $"only {live.Count} live kpi rows");
        Assert.Equal(live, Snapshot(await services.Influx.QueryAsync(importDatabase, "SELECT * FROM kpi")));
    }

    // Every journal record the live worker has received is processed.
    private static bool ProcessedAll(WorkerHost worker)
    {
        var services = worker.Host.Services;
        var pipeline = ((IEnumerable<Microsoft.Extensions.Hosting.IHostedService>)services.GetService(typeof(IEnumerable<Microsoft.Extensions.Hosting.IHostedService>))!)
            .OfType<Worker.Pipeline.TelemetryPipelineService>().Single();
        var journal = (Worker.Journal.MessageJournal)services.GetService(typeof(Worker.Journal.MessageJournal))!;
        return pipeline.Processed.Sequence >= journal.End.Sequence;
    }

    private static ((long, long, long, long) Day1, (long, long, long, long) Day2) Expected(string kind) => kind switch
    {
        // (completed, failed, cancelled, toys completed) on 5 and 6 January 2026, read off the fixture by hand.
        "moonraker" => ((1, 2, 1, 4), (1, 0, 0, 4)),
        "octoprint-csv" => ((1, 1, 1, 3), (1, 0, 0, 3)),
        _ => ((1, 1, 0, 3), (1, 0, 0, 2)),
    };

    private static (long, long, long, long) Counts(Dictionary<DateTimeOffset, Dictionary<string, JsonElement>> days, DateTimeOffset day)
    {
        Assert.True(days.TryGetValue(day, out var row), $"no 1d farm window at {day:O}: {days.Values.Format()}");
        long N(string f) => (long)(row!.OptionalNumber(f) ?? 0);
        return (N("jobs_completed"), N("jobs_failed"), N("jobs_cancelled"), N("toys_completed"));
    }

    private async Task<Dictionary<DateTimeOffset, Dictionary<string, JsonElement>>> DayRowsAsync(string database) =>
        (await services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"scope\" = 'farm' AND \"window\" = '1d'")).ToDictionary(r => r.Time(), r => r);

    // Every row as one text (time, tags and fields in column order), sorted: equal sets of points compare equal.
    private static List<string> Snapshot(IReadOnlyList<Dictionary<string, JsonElement>> rows) =>
        rows.Select(r => string.Join("|", r.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value.GetRawText()))).Order(StringComparer.Ordinal).ToList();

    private async Task<(string Database, Dictionary<string, string> Settings)> NewTargetAsync(string? farm = null)
    {
        var database = "import_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        return (database, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PrintFarm__DataFolder"] = ServerProcess.NewFolder("import"),
            ["PrintFarm__Farm"] = farm ?? "farm-" + Guid.NewGuid().ToString("N")[..6],
            ["PrintFarm__TimeZone"] = "UTC",
            ["PrintFarm__Windows__0"] = "1h",
            ["PrintFarm__Windows__1"] = "1d",
            ["PrintFarm__Influx__ApiVersion"] = "v1",
            ["PrintFarm__Influx__Url"] = services.Influx.Url,
            ["PrintFarm__Influx__Database"] = database,
            ["PrintFarm__Influx__Timeout"] = "00:00:05",
        });
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Import", "Fixtures", name);
}
