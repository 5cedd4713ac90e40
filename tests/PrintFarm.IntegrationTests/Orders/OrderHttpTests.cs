using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PrintFarm.IntegrationTests.EndToEnd;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// Orders over HTTP on the worker's health listener, through the real worker, a real Mosquitto and a real InfluxDB 1.x:
/// the same effect as the MQTT topic, and a bad order answered 400 and kept (log line, counter, dead letter).
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OrderHttpTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task An_order_put_over_HTTP_becomes_the_same_order_point_as_one_published_on_its_topic_and_DELETE_withdraws_it()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        var overHttp = "h" + Guid.NewGuid().ToString("N")[..8];
        var overMqtt = "m" + Guid.NewGuid().ToString("N")[..8];
        var order = new
        {
            placed = "2026-11-02T08:00:00Z",
            due = "2026-11-03T17:00:00Z",
            lines = new object[] { new { toy = "dragon", quantity = 3 }, new { toy = "owl", quantity = 2, material = "petg" } },
        };
        try
        {
            await using var worker = await WorkerHost.StartAsync(settings);
            var url = worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!;
            await using (var publisher = await TestPublisher.ConnectAsync(services.Mqtt))
            {
                await publisher.PublishJsonAsync($"printfarm/orders/{overMqtt}", order, retain: true);
            }

            var (status, answer) = await SendAsync(HttpMethod.Put, new Uri(url, $"/orders/{overHttp}"), JsonSerializer.Serialize(order));
            Assert.Equal(HttpStatusCode.Accepted, status);
            Assert.True(answer.GetProperty("accepted").GetBoolean());
            Assert.Equal($"printfarm/orders/{overHttp}", answer.GetProperty("topic").GetString());

            var rows = await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT * FROM \"order\""),
                r => r.Count == 2,
                "both orders' points",
                describe: r => r.Format());
            var http = rows.Single(r => r.Text("order") == overHttp);
            var mqtt = rows.Single(r => r.Text("order") == overMqtt);
            foreach (var field in new[] { "status", "due", "toys_ordered", "toys_completed", "print_time_s", "at_risk" })
            {
                Assert.Equal(mqtt[field].ToString(), http[field].ToString());
            }

            Assert.Equal(http.Time(), mqtt.Time()); // both at their placed time
            Assert.Equal("open", http.Text("status"));
            Assert.Equal(5, http.Number("toys_ordered"));
            Assert.Equal(1, worker.Counter("printfarm.orders.http[result=accepted]"));

            // DELETE withdraws it, as an empty retained message on the topic does.
            var (deleted, _) = await SendAsync(HttpMethod.Delete, new Uri(url, $"/orders/{overHttp}"), null);
            Assert.Equal(HttpStatusCode.Accepted, deleted);
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, $"SELECT * FROM \"order\" WHERE \"order\" = '{overHttp}'"),
                r => r.Count == 1 && r[0].Text("status") == "withdrawn",
                "the withdrawn order",
                describe: r => r.Format());
            Assert.Equal(0, worker.Counter("printfarm.messages.rejected"));
        }
        finally
        {
            await AdapterEndToEnd.ClearRetainedAsync(services, $"printfarm/orders/{overMqtt}");
        }
    }

    [Fact]
    public async Task A_bad_order_over_HTTP_is_answered_400_with_the_reason_and_gets_a_log_line_a_counter_and_a_dead_letter()
    {
        var (database, settings) = await AdapterEndToEnd.NewDatabaseAsync(services);
        settings["PrintFarm:MaxPayloadBytes"] = "4096";
        var id = "bad" + Guid.NewGuid().ToString("N")[..8];
        await using var worker = await WorkerHost.StartAsync(settings);
        var url = worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!;

        // A line without a quantity: the reader's own words come back.
        var (status, answer) = await SendAsync(HttpMethod.Post, new Uri(url, $"/orders/{id}"), """{"due":"2026-11-03T17:00:00Z","lines":[{"toy":"dragon"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(answer.GetProperty("accepted").GetBoolean());
        Assert.Equal("invalid_field", answer.GetProperty("reason").GetString());
        Assert.Contains("lines[0].quantity", answer.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Over MaxPayloadBytes: 413, only its size kept.
        var (large, _) = await SendAsync(HttpMethod.Put, new Uri(url, $"/orders/{id}"), "{\"due\":\"2026-11-03T17:00:00Z\",\"pad\":\"" + new string('x', 8000) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large);

        // An id that cannot be one topic level is refused before anything is journaled.
        var (badId, _) = await SendAsync(HttpMethod.Put, new Uri(url, "/orders/a+b"), """{"due":"2026-11-03T17:00:00Z","lines":[{"toy":"owl","quantity":1}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, badId);

        // The pipeline dead-letters both journaled messages on the order's topic, as it would from MQTT.
        await worker.WaitForCounterAsync("printfarm.messages.rejected", 2, TimeSpan.FromSeconds(30));
        await AdapterEndToEnd.AssertDeadLetteredAsync(worker, $"printfarm/orders/{id}", "invalid_field");
        await AdapterEndToEnd.AssertDeadLetteredAsync(worker, $"printfarm/orders/{id}", "oversize");
        Assert.Equal(2, worker.Counter("printfarm.orders.http[result=rejected]"));
        Assert.Equal(1, worker.Counter("printfarm.orders.http[result=oversize]"));
        Assert.Contains(worker.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains($"Order {id} received over HTTP (POST) is rejected (invalid_field", StringComparison.Ordinal));

        // Nothing reached the order book.
        var rows = await services.Influx.QueryAsync(database, "SELECT * FROM \"order\"");
        Assert.Empty(rows);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, Uri uri, string? json)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
