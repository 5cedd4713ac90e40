using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.Core.Events;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Simulator;
using PrintFarm.Simulator.Formats;
using PrintFarm.Simulator.Publishing;
using PrintFarm.Simulator.Truth;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Reasons;

/// <summary>
/// Why prints fail, through a real Mosquitto, the real worker and a real InfluxDB 1.x: the simulator's failed and
/// cancelled jobs in all four formats carry their reasons into the <c>job</c> points; operator labels afterwards, over
/// MQTT and over HTTP, rewrite those points (same series and time) and move the jobs between reasons; a label for an
/// unknown job is rejected and counted; <c>kpi_reason</c> of every closed window equals the simulator's truth.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class ReasonsEndToEndTests(ServicesFixture services)
{
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Reasons_from_every_format_and_operator_labels_give_kpi_reason_equal_to_the_truth()
    {
        var window = WindowSpec.Parse("1h");
        var simulation = new FarmSimulation(new SimulationOptions
        {
            Printers = 12,
            Mix = FormatMix.Parse("mixed"),
            Seed = 11,
            Catalog = PrintFarm.Simulator.Catalog.ToyCatalog.Quick,
            Duration = TimeSpan.FromHours(6),
            CadenceFactor = 2,
            FailureRate = 0.35,
            CancelRate = 0.1,
            PauseRate = 0,
            FlapRate = 0,
            MalformedRate = 0,
            PrinterPrefix = "r" + Guid.NewGuid().ToString("N")[..6] + "-",
        });
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Windows:0"] = window.Name;
        settings["PrintFarm:AllowedLateness"] = Lateness.ToString("c", CultureInfo.InvariantCulture);
        settings["PrintFarm:FlushInterval"] = "00:00:05";
        var clock = new SimulationClock(simulation.Options.Start);
        var topics = new HashSet<string>(StringComparer.Ordinal);
        var truth = simulation.Truth;
        var labels = new Dictionary<(string Printer, DateTimeOffset End), FailureReason>();

        await using (var worker = await WorkerHost.StartAsync(settings, s => s.AddSingleton<TimeProvider>(clock)))
        {
            await using var publisher = await MqttPublisher.ConnectAsync(services.Mqtt.Host, services.Mqtt.Port);
            var rejectedBefore = worker.Counter("printfarm.messages.rejected");
            await publisher.PublishAsync(new SimMessage(simulation.Options.Start, $"printfarm/{simulation.Options.PrinterPrefix}marker/event", "not json"u8.ToArray(), 1, false));
            await worker.WaitForCounterAsync("printfarm.messages.rejected", rejectedBefore + 1, TimeSpan.FromSeconds(30));
            var baseline = worker.Counter("printfarm.mqtt.messages.received");
            var runner = new SimulationRunner(simulation, (m, ct) =>
            {
                if (m.Retain)
                {
                    topics.Add(m.Topic);
                }

                return publisher.PublishAsync(m, ct);
            })
            {
                Speed = 0,
                Clock = clock,
                AwaitDelivered = (published, _) => worker.WaitForCounterAsync("printfarm.mqtt.messages.received", baseline + published, TimeSpan.FromSeconds(30)),
            };
            try
            {
                await runner.RunAsync();
            }
            finally
            {
                await publisher.ClearRetainedAsync(topics);
            }

            // Every failed or cancelled job point carries the reason its format said, from the printer.
            var ended = truth.Jobs.Where(j => j.Reported.Outcome != JobOutcome.Completed).ToList();
            // The writer's batches wait on the simulation's clock, which stands still once the trace ended: each poll
            // moves it on a few seconds so the last batch goes out.
            var rows = await Eventually.Until(
                () =>
                {
                    clock.AdvanceTo(clock.GetUtcNow().AddSeconds(5));
                    return services.Influx.QueryAsync(database, "SELECT * FROM job WHERE \"outcome\" != 'completed'");
                },
                r => r.Count == ended.Count,
                $"{ended.Count} failed and cancelled job points",
                describe: r => r.Format());
            var byKey = rows.ToDictionary(r => (r.Text("printer")!, r.Time()));
            foreach (var job in ended)
            {
                var row = byKey[(job.Reported.Printer, job.Reported.End)];
                Assert.True(FailureReasons.Name(job.Reported.Reason!.Value) == row.Text("reason"), $"{job.Format} {job.Reported.Printer} {job.Reported.End:HH:mm:ss}: {row.Text("reason")} ({row.Text("reason_detail")}), expected {job.Reported.Reason}");
                Assert.Equal(FailureReasons.FromPrinter, row.Text("reason_source"));
            }

            // Named reasons (not only unknown and cancels) from each of the four formats.
            foreach (var format in Enum.GetValues<PrinterFormat>())
            {
                Assert.Contains(ended, j => j.Format == format && j.Reported.Reason is not (FailureReason.Unknown or FailureReason.OperatorCancel));
            }

            // Labels afterwards: one over HTTP, two over MQTT, on failed jobs of three formats; then one for a job
            // that does not exist, last, so once it is counted the others have been applied (one pipeline, in order).
            var failed = ended.Where(j => j.Reported.Outcome == JobOutcome.Failed).GroupBy(j => j.Format).Select(g => g.First()).Take(3).ToList();
            Assert.Equal(3, failed.Count);
            var newReasons = new[] { FailureReason.UserError, FailureReason.Spaghetti, FailureReason.PowerLoss };
            var url = worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!;
            using var http = new HttpClient();
            for (var i = 0; i < failed.Count; i++)
            {
                var job = failed[i].Reported;
                var jobId = byKey[(job.Printer, job.End)].Text("job_id")!;
                var body = $$"""{"reason":"{{FailureReasons.Name(newReasons[i])}}","note":"label {{i}}"}""";
                labels[(job.Printer, job.End)] = newReasons[i];
                if (i == 0)
                {
                    using var answer = await http.PostAsync(new Uri(url, $"/labels/{Uri.EscapeDataString(job.Printer)}/{Uri.EscapeDataString(jobId)}"), new StringContent(body, Encoding.UTF8, "application/json"));
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }
                else if (jobId.AsSpan().IndexOfAny('+', '#') >= 0)
                {
                    // Not a valid topic level (Moonraker's file@start+duration ids): the body names the job.
                    var named = $$"""{"reason":"{{FailureReasons.Name(newReasons[i])}}","note":"label {{i}}","job_id":"{{jobId}}"}""";
                    await publisher.PublishAsync(new SimMessage(clock.GetUtcNow(), $"printfarm/labels/{job.Printer}/by-body", Encoding.UTF8.GetBytes(named), 1, false));
                }
                else
                {
                    await publisher.PublishAsync(new SimMessage(clock.GetUtcNow(), $"printfarm/labels/{job.Printer}/{jobId}", Encoding.UTF8.GetBytes(body), 1, false));
                }
            }

            var rejected = worker.Counter("printfarm.messages.rejected");
            await publisher.PublishAsync(new SimMessage(clock.GetUtcNow(), $"printfarm/labels/{failed[0].Reported.Printer}/no-such-job", """{"reason":"clog"}"""u8.ToArray(), 1, false));
            await worker.WaitForCounterAsync("printfarm.messages.rejected", rejected + 1, TimeSpan.FromSeconds(30));
        }

        // The worker has stopped: its last flush is in the database. The labelled jobs' points were replaced in place.
        var jobs = await services.Influx.QueryAsync(database, "SELECT * FROM job WHERE \"reason_source\" = 'operator'");
        Assert.Equal(labels.Count, jobs.Count);
        foreach (var row in jobs)
        {
            Assert.Equal(FailureReasons.Name(labels[(row.Text("printer")!, row.Time())]), row.Text("reason"));
        }

        var closed = Enumerable.Range(0, 6).Select(h => simulation.Options.Start.AddHours(h))
            .Where(start => window.EndOf(start) + Lateness + TimeSpan.FromMinutes(30) <= simulation.Stop)
            .ToList();
        Assert.True(closed.Count >= 4);
        var reasonRows = (await services.Influx.QueryAsync(database, "SELECT * FROM kpi_reason WHERE \"window\" = '1h'"))
            .ToDictionary(r => (r.Time(), r.Text("reason")!));
        var kpiRows = (await services.Influx.QueryAsync(database, "SELECT * FROM kpi WHERE \"scope\" = 'farm' AND \"window\" = '1h'"))
            .ToDictionary(r => r.Time());
        var checkedWindows = 0;
        foreach (var start in closed)
        {
            var expected = SimReasons.Breakdown(truth, window, start, j => labels.TryGetValue((j.Printer, j.End), out var r) ? r : null);
            var actual = reasonRows.Where(kv => kv.Key.Item1 == start && kv.Value.Number("jobs") > 0).ToDictionary(kv => kv.Key.Item2, kv => kv.Value);
            Assert.Equal(expected.Keys.Select(FailureReasons.Name).Order(), actual.Keys.Order());
            foreach (var (reason, totals) in expected)
            {
                var row = actual[FailureReasons.Name(reason)];
                Assert.Equal(totals.Jobs, (long)row.Number("jobs"));
                Assert.Equal(totals.ToysLost, (long)row.Number("toys_lost"));
                Assert.Equal(totals.WasteGrams, row.Number("filament_waste_g"), 6);
            }

            if (expected.Count > 0)
            {
                checkedWindows++;
                var waste = kpiRows[start].Number("filament_waste_g");
                Assert.Equal(waste, actual.Values.Sum(r => r.Number("filament_waste_g")), 6);
                if (waste > 0)
                {
                    Assert.Equal(1, actual.Values.Sum(r => r.Number("waste_share")), 9);
                }
            }
        }

        Assert.True(checkedWindows >= 3, $"only {checkedWindows} windows with failures");
        Assert.Contains(labels.Keys, k => closed.Contains(window.StartOf(k.End)));
    }
}
