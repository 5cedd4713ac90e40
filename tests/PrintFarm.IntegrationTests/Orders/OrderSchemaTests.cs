using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrintFarm.Core.Orders;
using PrintFarm.IntegrationTests.Grafana;

namespace PrintFarm.IntegrationTests.Orders;

/// <summary>
/// docs/schema/order.schema.json says what the worker's order reader does: its examples are accepted, what it requires
/// is required, and its bounds are the reader's.
/// </summary>
public sealed class OrderSchemaTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 2, 12, 0, 0, TimeSpan.Zero);

    private static JsonObject Schema() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(GrafanaFiles.RepoRoot, "docs", "schema", "order.schema.json")))!.AsObject();

    [Fact]
    public void Every_example_of_the_schema_is_accepted_by_the_reader_and_names_only_fields_the_schema_has()
    {
        var schema = Schema();
        var fields = schema["properties"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var lineFields = schema["properties"]!["lines"]!["items"]!["properties"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var examples = schema["examples"]!.AsArray();

        Assert.True(examples.Count >= 2);
        foreach (var example in examples)
        {
            var result = OrderBook.Check("o-1", Encoding.UTF8.GetBytes(example!.ToJsonString()), Now);
            Assert.True(result.Accepted, $"{example.ToJsonString()}: {result.Reason} {result.Detail}");
            Assert.All(example.AsObject().Select(p => p.Key), f => Assert.Contains(f, fields));
            Assert.All(example["lines"]!.AsArray().SelectMany(l => l!.AsObject().Select(p => p.Key)), f => Assert.Contains(f, lineFields));
        }
    }

    [Fact]
    public void What_the_schema_requires_the_reader_requires()
    {
        var schema = Schema();
        var example = schema["examples"]![0]!.AsObject();
        foreach (var required in schema["required"]!.AsArray().Select(r => r!.GetValue<string>()))
        {
            var without = example.DeepClone().AsObject();
            without.Remove(required);
            Assert.False(OrderBook.Check("o-1", Encoding.UTF8.GetBytes(without.ToJsonString()), Now).Accepted, $"accepted without '{required}'");
        }

        foreach (var required in schema["properties"]!["lines"]!["items"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()))
        {
            var without = example.DeepClone().AsObject();
            without["lines"]![0]!.AsObject().Remove(required);
            Assert.False(OrderBook.Check("o-1", Encoding.UTF8.GetBytes(without.ToJsonString()), Now).Accepted, $"accepted a line without '{required}'");
        }

        // Fields the schema does not require are optional to the reader too.
        var bare = new JsonObject { ["due"] = example["due"]!.DeepClone(), ["lines"] = new JsonArray(new JsonObject { ["toy"] = "bee", ["quantity"] = 1 }) };
        Assert.True(OrderBook.Check("o-1", Encoding.UTF8.GetBytes(bare.ToJsonString()), Now).Accepted);
    }

    [Fact]
    public void The_schemas_bounds_on_lines_and_quantity_are_the_readers()
    {
        var lines = Schema()["properties"]!["lines"]!;
        var maxLines = lines["maxItems"]!.GetValue<int>();
        var maxQuantity = lines["items"]!["properties"]!["quantity"]!["maximum"]!.GetValue<int>();
        var minQuantity = lines["items"]!["properties"]!["quantity"]!["minimum"]!.GetValue<int>();

        Assert.True(Accepted(Enumerable.Range(0, maxLines).Select(i => ($"toy{i}", 1))));
        Assert.False(Accepted(Enumerable.Range(0, maxLines + 1).Select(i => ($"toy{i}", 1))));
        Assert.False(Accepted([]));
        Assert.True(Accepted([("bee", maxQuantity)]));
        Assert.False(Accepted([("bee", maxQuantity + 1)]));
        Assert.True(Accepted([("bee", minQuantity)]));
        Assert.False(Accepted([("bee", minQuantity - 1)]));
    }

    [Fact]
    public void An_empty_payload_and_status_cancelled_withdraw_as_the_schema_says_and_another_status_is_refused()
    {
        Assert.True(OrderBook.Check("o-1", ReadOnlyMemory<byte>.Empty, Now).Accepted);
        Assert.True(OrderBook.Check("o-1", """{"status":"cancelled"}"""u8.ToArray(), Now).Accepted);
        var refused = OrderBook.Check("o-1", """{"status":"shipped","due":"2026-11-06T17:00:00Z","lines":[{"toy":"bee","quantity":1}]}"""u8.ToArray(), Now);
        Assert.False(refused.Accepted);
        var allowed = Schema()["properties"]!["status"]!["enum"]!.AsArray().Select(s => s?.GetValue<string>()).ToList();
        Assert.DoesNotContain("shipped", allowed);
    }

    private static bool Accepted(IEnumerable<(string Toy, int Quantity)> lines)
    {
        var json = JsonSerializer.Serialize(new { due = "2026-11-06T17:00:00Z", lines = lines.Select(l => new { toy = l.Toy, quantity = l.Quantity }) });
        return OrderBook.Check("o-1", Encoding.UTF8.GetBytes(json), Now).Accepted;
    }
}
