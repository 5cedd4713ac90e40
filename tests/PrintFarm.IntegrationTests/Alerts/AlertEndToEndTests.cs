using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Alerts;

/// <summary>
/// The built-in alerts end to end: printer events into a real Mosquitto, through the real worker, and out as a
/// retained MQTT message, an <c>alert</c> point in a real InfluxDB, a log line and a webhook POST to a real HTTP
/// endpoint. Nothing is stubbed.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class AlertEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Day = new(2026, 1, 12, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Efficiency_falling_on_one_printer_fires_one_alert_for_it_everywhere_and_its_recovery_resolves_it()
    {
        var database = "alerts_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var prefix = "test-alerts-" + Guid.NewGuid().ToString("N")[..8];
        var trace = new FallingPrinterTrace(prefix);
        await using var webhook = WebhookReceiver.Start();
        webhook.Statuses.Enqueue(503); // the first POST fails: Polly retries it

        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        settings["PrintFarm:Alerts:TopicPrefix"] = prefix;
        settings["PrintFarm:Alerts:RetryDelay"] = "00:00:00.1";
        settings["PrintFarm:Alerts:Webhook:Url"] = webhook.Url;

        // Only the native format: a retained message another test left on the shared broker in another format would
        // otherwise be replayed on subscribe, and its old event time would hold the farm watermark back (and so every
        // window's close, and the alerts) until that source counts as idle.
        settings["PrintFarm:Adapters:OctoPrint:Enabled"] = "false";
        settings["PrintFarm:Adapters:Moonraker:Enabled"] = "false";
        settings["PrintFarm:Adapters:Bambu:Enabled"] = "false";

        await using var dashboard = await TestSubscriber.SubscribeAsync(services.Mqtt, prefix + "/#");
        settings["PrintFarm:CheckpointInterval"] = "00:00:00.5";
        await using var worker = await WorkerHost.StartAsync(settings);
        var (before, after) = trace.Split(hours: 3);
        await using (var printers = await TestPublisher.ConnectAsync(services.Mqtt))
        {
            foreach (var (printerTopic, payload) in before)
            {
                await printers.PublishJsonAsync(printerTopic, payload);
            }

            var state = Path.Combine(worker.DataFolder, "checkpoint", "state.json");
            await Eventually.Until(() => Task.FromResult(FallingPrinterTrace.HasEvaluated(state)), e => e, "the worker's first alert evaluation");
            foreach (var (printerTopic, payload) in after)
            {
                await printers.PublishJsonAsync(printerTopic, payload);
            }
        }

        // What the alert rule says should happen, worked out from the jobs (docs/operations.md, "Alerts").
        var (firedAt, fired, resolvedAt, resolved) = trace.ExpectedEfficiencyDrop();
        var topic = $"{prefix}/efficiency_drop/printer/{trace.Falling}";

        // MQTT: the firing and the resolved message on the printer's topic, nothing on any other.
        var live = await Eventually.Until(
            () => Task.FromResult(dashboard.Messages),
            m => m.Count >= 2,
            "the firing and resolved alert messages",
            describe: m => string.Join("\n", m.Select(x => $"{x.Topic} {x.Payload}"))
                + $"\nworker watermark {worker.Host.Services.GetRequiredService<PrintFarm.Core.Processing.TelemetryProcessor>().Kpis.Watermark:O}; log:\n"
                + string.Join("\n", worker.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information).Select(e => $"{e.Level} {e.Category}: {e.Message}").Take(40)));
        Assert.All(live, m => Assert.Equal(topic, m.Topic));
        Assert.Equal(["firing", "resolved"], live.Select(m => State(m.Payload)));
        using (var firing = JsonDocument.Parse(live[0].Payload))
        {
            var root = firing.RootElement;
            Assert.Equal(trace.Falling, root.GetProperty("subject").GetString());
            Assert.Equal("printer", root.GetProperty("scope").GetString());
            Assert.Equal(firedAt, root.GetProperty("at").GetDateTimeOffset());
            Assert.Equal(fired.Value, root.GetProperty("value").GetDouble(), 9);
            Assert.Equal(fired.Baseline, root.GetProperty("baseline").GetDouble(), 9);
            Assert.Equal(fired.Baseline - 0.15, root.GetProperty("threshold").GetDouble(), 9);
        }

        // Retained: a dashboard that connects now is told the current state at once.
        await using (var late = await TestSubscriber.SubscribeAsync(services.Mqtt, prefix + "/#"))
        {
            var retained = await Eventually.Until(() => Task.FromResult(late.Messages), m => m.Count >= 1, "the retained alert");
            var only = Assert.Single(retained);
            Assert.True(only.Retained);
            Assert.Equal(topic, only.Topic);
            Assert.Equal("resolved", State(only.Payload));
        }

        // InfluxDB: the two alert points, tagged like kpi points, at the event times of the transitions.
        var points = await Eventually.Until(
            () => services.Influx.QueryAsync(database, "SELECT * FROM \"alert\""),
            rows => rows.Count >= 2,
            "two alert points",
            describe: rows => rows.Format());
        Assert.Equal(2, points.Count);
        Assert.All(points, p =>
        {
            Assert.Equal((trace.Falling, "efficiency_drop", "printer", "test-farm"), (p.Text("printer"), p.Text("rule"), p.Text("scope"), p.Text("farm")));
            Assert.False(string.IsNullOrWhiteSpace(p.Text("message")));
        });
        Assert.Equal([(firedAt, "firing"), (resolvedAt, "resolved")], points.Select(p => (p.Time(), p.Text("state")!)));
        Assert.Equal(fired.Value, points[0].Number("value"), 9);
        Assert.Equal(resolved.Value, points[1].Number("value"), 9);
        Assert.Equal(resolved.Baseline, points[1].Number("baseline"), 9);

        // Webhook: both transitions, the first after one retry of a 503.
        var requests = await Eventually.Until(() => Task.FromResult(webhook.Requests), r => r.Count >= 3, "three webhook requests");
        Assert.Equal([503, 200, 200], requests.Select(r => r.Status));
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Equal(["firing", "resolved"], requests.Skip(1).Select(r => State(r.Body)));
        using (var body = JsonDocument.Parse(requests[1].Body))
        {
            Assert.Contains(trace.Falling, body.RootElement.GetProperty("text").GetString(), StringComparison.Ordinal);
            Assert.Equal(body.RootElement.GetProperty("text").GetString(), body.RootElement.GetProperty("content").GetString());
        }

        // One log line per transition.
        var lines = worker.Logs.Entries.Where(e => e.Message.StartsWith("Alert efficiency_drop", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains($"FIRING for printer {trace.Falling}", lines[0].Message, StringComparison.Ordinal);
        Assert.Contains($"resolved for printer {trace.Falling}", lines[1].Message, StringComparison.Ordinal);
        Assert.Equal(2, worker.Counter("printfarm.alerts.transitions"));
        Assert.Equal(2, worker.Counter("printfarm.alerts.deliveries[channel=webhook]"));
    }

    private static string State(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("state").GetString()!;
    }

    /// <summary>
    /// Three printers printing dragons for 12 hours, four 10-minute jobs an hour each: three complete with 40 g and
    /// one fails after 4 g. On one printer, from 06:00 to 09:00, the failing job fails late, after 60 g: its success
    /// rate and print time per toy stay as they were, only its material efficiency falls.
    /// </summary>
    internal sealed class FallingPrinterTrace(string prefix)
    {
        public string Falling { get; } = prefix + "-p1";

        public IReadOnlyList<string> Printers { get; } = [prefix + "-p1", prefix + "-p2", prefix + "-p3"];

        public IReadOnlyList<Job> Jobs => Printers.SelectMany(printer => Enumerable.Range(0, 12).SelectMany(hour => Enumerable.Range(0, 4).Select(slot =>
        {
            var start = Day.AddHours(hour).AddMinutes(15 * slot);
            var failing = slot == 3;
            var late = printer == Falling && hour is >= 6 and < 9;
            return new Job(printer, $"{printer}-{hour}-{slot}", start, start.AddMinutes(10), failing ? "failed" : "completed", failing ? (late ? 60 : 4) : 40);
        }))).ToList();

        /// <summary>
        /// The messages of the first <paramref name="hours"/> (before anything falls) and the rest. A fresh worker's first
        /// evaluation judges only the newest closed window (no alerts over history it never watched live), so a test
        /// publishes the first part, waits for that evaluation (<see cref="HasEvaluated"/>), then publishes the rest;
        /// all at once, the whole trace can land before the first flush and no boundary of the drop is ever judged.
        /// </summary>
        public (List<(string Topic, object Payload)> Before, List<(string Topic, object Payload)> After) Split(int hours)
        {
            var all = Messages().ToList();
            var before = Jobs.Count(j => j.End < Day.AddHours(hours)) * 3; // three messages a job, all within its hour
            return (all[..before], all[before..]);
        }

        /// <summary>True once the checkpoint at <paramref name="statePath"/> records an alert evaluation.</summary>
        public static bool HasEvaluated(string statePath)
        {
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(statePath));
                return doc.RootElement.TryGetProperty("alerts", out var alerts)
                    && alerts.TryGetProperty("EvaluatedUntil", out var until)
                    && until.GetInt64() > 0;
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or InvalidOperationException)
            {
                return false;
            }
        }

        public IEnumerable<(string Topic, object Payload)> Messages() => Jobs
            .SelectMany(j => new (DateTimeOffset At, string Topic, object Payload)[]
            {
                (j.Start, Topic(j.Printer), new { type = "job_started", ts = j.Start.ToString("O"), job_id = j.Id, file = "dragon.gcode", material = "PLA" }),
                (j.Start.AddMinutes(5), Topic(j.Printer), new { type = "job_progress", ts = j.Start.AddMinutes(5).ToString("O"), job_id = j.Id, progress_pct = 50.0, state = "printing" }),
                (j.End, Topic(j.Printer), new { type = "job_finished", ts = j.End.ToString("O"), job_id = j.Id, file = "dragon.gcode", outcome = j.Outcome, filament_g = j.Grams, print_time_s = 600 }),
            })
            .OrderBy(m => m.At)
            .Select(m => (m.Topic, m.Payload));

        /// <summary>
        /// The efficiency-drop rule with its defaults, applied to the falling printer's jobs at each hour boundary:
        /// the last 3 hours against the 7 days before them, fire below baseline − 15 points, resolve at baseline − 10.
        /// </summary>
        public (DateTimeOffset FiredAt, (double Value, double Baseline) Fired, DateTimeOffset ResolvedAt, (double Value, double Baseline) Resolved) ExpectedEfficiencyDrop()
        {
            var jobs = Jobs.Where(j => j.Printer == Falling).ToList();
            double Efficiency(DateTimeOffset from, DateTimeOffset to)
            {
                var range = jobs.Where(j => j.End >= from && j.End < to).ToList();
                var used = range.Sum(j => j.Grams);
                return (used - range.Where(j => j.Outcome == "failed").Sum(j => j.Grams)) / used;
            }

            // Minimum volume of the baseline: 10 jobs and 200 g.
            bool Enough(DateTimeOffset to) => jobs.Count(j => j.End < to) >= 10 && jobs.Where(j => j.End < to).Sum(j => j.Grams) >= 200;

            DateTimeOffset? firedAt = null;
            (double, double) fired = default;
            for (var end = Day.AddHours(4); end <= Day.AddHours(11); end = end.AddHours(1))
            {
                var recent = Efficiency(end.AddHours(-3), end);
                var baseline = Efficiency(end.AddHours(-3).AddDays(-7), end.AddHours(-3));
                if (firedAt is null && Enough(end.AddHours(-3)) && recent < baseline - 0.15)
                {
                    (firedAt, fired) = (end, (recent, baseline));
                }
                else if (firedAt is not null && recent >= baseline - 0.10)
                {
                    return (firedAt.Value, fired, end, (recent, baseline));
                }
            }

            throw new InvalidOperationException("the trace should fire and resolve within the day");
        }

        private static string Topic(string printer) => $"printfarm/{printer}/event";
    }

    internal sealed record Job(string Printer, string Id, DateTimeOffset Start, DateTimeOffset End, string Outcome, double Grams);
}
