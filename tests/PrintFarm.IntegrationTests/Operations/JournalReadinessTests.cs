using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Operations;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>The <c>journal</c> check of the real worker's <c>/readyz</c> over HTTP (issue 18, item 1).</summary>
[Collection(ServicesCollection.Name)]
public sealed class JournalReadinessTests(ServicesFixture services)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task An_unacknowledged_quarantine_file_makes_readyz_503_with_the_journal_degraded_until_it_is_renamed()
    {
        var data = ServerProcess.NewFolder("worker-data");
        var quarantine = Directory.CreateDirectory(Path.Combine(data, "journal", "quarantine")).FullName;
        var bad = Path.Combine(quarantine, "00000000000000000000-4242.bad");
        await File.WriteAllBytesAsync(bad, [1, 2, 3]);
        var settings = WorkerHost.BaseSettings(services.Mqtt, data);
        settings["PrintFarm:Influx:ApiVersion"] = "v1";
        settings["PrintFarm:Influx:Url"] = services.Influx.Url;
        settings["PrintFarm:Influx:Database"] = "journal_ready_" + Guid.NewGuid().ToString("N");
        await using var worker = await WorkerHost.StartAsync(settings);
        var url = new Uri(worker.Host.Services.GetRequiredService<HealthEndpointService>().Url!, "/readyz");

        var (status, body) = await GetAsync(url);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var journal = body.GetProperty("checks").GetProperty("journal");
        Assert.Equal("Degraded", journal.GetProperty("status").GetString());
        Assert.Contains("00000000000000000000-4242.bad", journal.GetProperty("description").GetString(), StringComparison.Ordinal);

        File.Move(bad, bad + ".acked");
        var (_, after) = await Eventually.Until(() => GetAsync(url), r => r.Body.GetProperty("checks").GetProperty("journal").GetProperty("status").GetString() == "Healthy", "the journal check healthy once acknowledged", TimeSpan.FromSeconds(10));
        Assert.Equal(0, after.GetProperty("checks").GetProperty("journal").GetProperty("data").GetProperty("damagedBytes").GetInt64());
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
