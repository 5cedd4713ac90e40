using System.Text.Json;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.EndToEnd;

/// <summary>What the printer-format end-to-end tests share: a worker writing to a fresh InfluxDB database, and checks.</summary>
internal static class AdapterEndToEnd
{
    // 1.75 mm filament: grams = mm × π × 0.875² ÷ 1000 × density.
    public static double Grams(double millimetres, double density) => millimetres * Math.PI * 0.875 * 0.875 / 1000.0 * density;

    public static async Task<(string Database, Dictionary<string, string?> Settings)> NewDatabaseAsync(ServicesFixture services)
    {
        var database = "e2e_" + Guid.NewGuid().ToString("N");
        await services.Influx.CreateDatabaseAsync(database);
        var settings = WorkerHost.BaseSettings(services.Mqtt);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = database;
        return (database, settings);
    }

    /// <summary>Waits for exactly <paramref name="count"/> job points of <paramref name="printer"/>.</summary>
    public static async Task<IReadOnlyList<Dictionary<string, JsonElement>>> JobsAsync(ServicesFixture services, string database, string printer, int count)
    {
        var jobs = await Eventually.Until(
            () => services.Influx.QueryAsync(database, $"SELECT * FROM job WHERE \"printer\" = '{printer}'"),
            rows => rows.Count >= count && rows.All(InfluxRowExtensions.IsWholeJobPoint),
            $"{count} whole job points of {printer}",
            describe: rows => rows.Format());
        Assert.Equal(count, jobs.Count);
        return jobs;
    }

    /// <summary>Asserts that <paramref name="topic"/>'s bad payload was dead-lettered with <paramref name="reason"/>.</summary>
    public static async Task AssertDeadLetteredAsync(WorkerHost worker, string topic, string reason)
    {
        Assert.True(worker.Counter($"printfarm.messages.rejected[reason={reason}]") >= 1, $"no message rejected as {reason}");
        var folder = Path.Combine(worker.DataFolder, "deadletter");
        var letters = await Eventually.Until(
            () => Task.FromResult(Directory.Exists(folder)
                ? Directory.GetFiles(folder, "messages-*.jsonl").SelectMany(File.ReadLines).Select(l => JsonDocument.Parse(l).RootElement).ToList()
                : []),
            l => l.Any(x => x.GetProperty("topic").GetString() == topic && x.GetProperty("reason").GetString() == reason),
            $"a dead letter for {topic} with reason {reason}");
        Assert.Contains(letters, x => x.GetProperty("topic").GetString() == topic && x.GetProperty("reason").GetString() == reason);
    }

    /// <summary>
    /// Clears retained messages a test left on the shared broker: a later test's worker would receive them, and a
    /// presence sample stamped "now" would move its KPI watermark past that test's event times.
    /// </summary>
    public static async Task ClearRetainedAsync(ServicesFixture services, params string[] topics)
    {
        await using var client = await TestPublisher.ConnectAsync(services.Mqtt);
        foreach (var topic in topics)
        {
            await client.PublishAsync(topic, [], retain: true);
        }
    }

    /// <summary>The row's field as a number, or null when the field is absent from the point.</summary>
    public static double? OptionalNumber(this Dictionary<string, JsonElement> row, string column) =>
        row.TryGetValue(column, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
