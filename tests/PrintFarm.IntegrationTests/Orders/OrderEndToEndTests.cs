using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// Orders and on-time delivery through a real Mosquitto, the real worker and a real InfluxDB 1.x: three retained
/// orders, one linked by file name and completed only after its failed print is reprinted (on time), one served
/// first-in-first-out and completed late, one too large for its due time that raises <c>order_at_risk</c> before it is
/// due; a worker restart in the middle, which receives the retained orders again and counts nothing twice.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OrderEndToEndTests(ServicesFixture services)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 6, 0, 0, TimeSpan.Zero);

    private static string At(TimeSpan offset) => (T0 + offset).ToString("O");

    [Fact]
    public async Task A_reprinted_order_is_on_time_a_fifo_order_is_late_an_overloaded_order_is_at_risk_before_its_due_time_and_a_restart_counts_nothing_twice()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:Alerts:Rules:StoppedReportingAfter"] = "00:00:00"; // sparse events: no offline by silence
        var run = Guid.NewGuid().ToString("N")[..6];
        var printer = "ord" + run;
        var topic = $"printfarm/{printer}/event";
        string A = "a" + run, B = "b" + run, C = "c" + run;
        var orderTopics = new[] { A, B, C }.Select(id => $"printfarm/orders/{id}").ToArray();
        var h = TimeSpan.FromHours(1);
        try
        {
            await using (var worker = await WorkerHost.StartAsync(settings))
            await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                // A: 2 dragons by 16:00, printed from a file named for it. B: 1 owl by 11:00, no link (FIFO).
                // C: 40 frogs by 20:00 — far more than one printer makes in 14 hours.
                await publisher.PublishJsonAsync(orderTopics[0], new { placed = At(TimeSpan.Zero), due = At(10 * h), lines = new[] { new { toy = "dragon", quantity = 2 } } }, retain: true);
                await publisher.PublishJsonAsync(orderTopics[1], new { placed = At(TimeSpan.FromMinutes(1)), due = At(5 * h), lines = new[] { new { toy = "owl", quantity = 1 } } }, retain: true);
                await publisher.PublishJsonAsync(orderTopics[2], new { placed = At(TimeSpan.FromMinutes(2)), due = At(14 * h), lines = new[] { new { toy = "frog", quantity = 40 } } }, retain: true);

                // A's first print fails after an hour; its reprint takes two and completes it.
                var file = $"order-{A}_dragon_x2.gcode";
                await publisher.PublishJsonAsync(topic, new { type = "job_started", ts = At(h), job_id = "j1", file });
                await publisher.PublishJsonAsync(topic, new { type = "job_finished", ts = At(2 * h), job_id = "j1", file, outcome = "failed", print_time_s = 3600.0 });
                await publisher.PublishJsonAsync(topic, new { type = "job_started", ts = At(2 * h), job_id = "j2", file });
                await publisher.PublishJsonAsync(topic, new { type = "job_finished", ts = At(4 * h), job_id = "j2", file, outcome = "completed", print_time_s = 7200.0 });
                await publisher.PublishJsonAsync(topic, new { type = "status", ts = At(4 * h + TimeSpan.FromMinutes(20)), state = "idle" });

                var a = await Eventually.Until(
                    () => services.Influx.QueryAsync(database, $"SELECT * FROM \"order\" WHERE \"order\" = '{A}'"),
                    rows => rows.Count == 1 && rows[0].Text("status") == "completed",
                    "order A completed",
                    describe: rows => rows.Format());
                Assert.Equal(2, a[0].Number("toys_completed"));
                Assert.Equal(3 * 3600, a[0].Number("print_time_s")); // the failed hour and the reprint's two
                Assert.True(a[0]["on_time"].GetBoolean());

                // C's alert fires at an at-risk check once the farm has a rate: long before C is due.
                await Eventually.Until(
                    () => AtRiskAsync(database, C),
                    rows => rows.Count == 1,
                    "order C's at-risk alert",
                    describe: rows => rows.Format());
            }

            // The restarted worker carries on from its checkpoint; the broker hands it the three retained orders again.
            settings["PrintFarm:Mqtt:ClientId"] = "worker-" + Guid.NewGuid().ToString("N");
            await using (var worker = await WorkerHost.StartAsync(settings))
            await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                await publisher.PublishJsonAsync(topic, new { type = "job_started", ts = At(4 * h + TimeSpan.FromMinutes(20)), job_id = "j3", file = "owl.gcode" });
                await publisher.PublishJsonAsync(topic, new { type = "job_finished", ts = At(6 * h + TimeSpan.FromMinutes(20)), job_id = "j3", file = "owl.gcode", outcome = "completed", print_time_s = 7200.0 });
                await publisher.PublishJsonAsync(topic, new { type = "status", ts = At(6 * h + TimeSpan.FromMinutes(40)), state = "idle" });

                var b = await Eventually.Until(
                    () => services.Influx.QueryAsync(database, $"SELECT * FROM \"order\" WHERE \"order\" = '{B}'"),
                    rows => rows.Count == 1 && rows[0].Text("status") == "completed",
                    "order B completed",
                    describe: rows => rows.Format());
                Assert.False(b[0]["on_time"].GetBoolean());
                Assert.Equal(TimeSpan.FromMinutes(80).TotalSeconds, b[0].Number("lateness_s"));

                // The day: A on time, B late; each toy once, the failed print's hour in the production time.
                var day = await Eventually.Until(
                    () => services.Influx.QueryAsync(database, $"SELECT * FROM order_kpi WHERE \"window\" = '1d' AND time = '{T0.Date:yyyy-MM-ddTHH:mm:ssZ}'"),
                    rows => rows.Count == 1 && rows[0].Number("orders_completed") >= 2,
                    "the day's order_kpi with both orders",
                    describe: rows => rows.Format());
                Assert.Equal(2, day[0].Number("orders_completed"));
                Assert.Equal(1, day[0].Number("orders_on_time"));
                Assert.Equal(0.5, day[0].Number("on_time_rate"), 9);
                Assert.Equal(3, day[0].Number("toys"));
                Assert.Equal(5 * 3600, day[0].Number("print_time_s"));
                Assert.Equal(5 * 3600 / 3.0, day[0].Number("print_time_per_toy_s"), 6);
                Assert.Equal(5 * 3600 / 2.0, day[0].Number("print_time_per_order_s"), 6);

                // Nothing counted twice after the restart: A still 2 toys, C's alert fired once, C still open and at risk.
                var orders = await services.Influx.QueryAsync(database, "SELECT * FROM \"order\"");
                Assert.Equal(2, orders.Single(r => r.Text("order") == A).Number("toys_completed"));
                var c = orders.Single(r => r.Text("order") == C);
                Assert.Equal("open", c.Text("status"));
                Assert.True(c["at_risk"].GetBoolean());
                var alerts = await AtRiskAsync(database, C);
                var fired = Assert.Single(alerts);
                Assert.True(fired.Time() < T0 + (14 * h), $"fired at {fired.Time():O}, after C's due time");
                Assert.Equal(0, worker.Counter("printfarm.messages.rejected"));
            }
        }
        finally
        {
            await AdapterEndToEnd.ClearRetainedAsync(services, orderTopics);
        }
    }

    private Task<IReadOnlyList<Dictionary<string, System.Text.Json.JsonElement>>> AtRiskAsync(string database, string order) =>
        services.Influx.QueryAsync(database, $"SELECT * FROM alert WHERE \"rule\" = 'order_at_risk' AND \"order\" = '{order}' AND \"state\" = 'firing'");
}
