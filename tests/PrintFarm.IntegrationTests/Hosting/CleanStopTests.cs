using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Hosting;

/// <summary>
/// What an operator reads in the log of one start and one clean stop of the real worker process (issue 19 item 1):
/// the banner once, and a stop that says so instead of "connection lost; reconnecting".
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class CleanStopTests(ServicesFixture services)
{
    [Fact]
    public async Task A_start_and_a_SIGTERM_log_the_banner_once_and_no_lost_connection()
    {
        var database = "clean_stop_" + Guid.NewGuid().ToString("N")[..8];
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(services.Mqtt, services.Influx.Url, database, "clean-stop-" + Guid.NewGuid().ToString("N")[..6]));

        var code = await worker.StopAsync();

        Assert.True(code == 0, $"exit code {code}:\n{worker.Output}");
        Assert.Single(worker.LinesContaining("PrintFarm Telemetry 1."));
        Assert.Empty(worker.LinesContaining("connection lost"));
        Assert.Empty(worker.LinesContaining("reconnecting"));
        Assert.Single(worker.LinesContaining($"Disconnected from MQTT broker {services.Mqtt.Host}:{services.Mqtt.Port}: the worker is stopping"));
    }

    [Fact]
    public async Task A_broker_that_goes_away_is_still_a_lost_connection()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var database = "lost_broker_" + Guid.NewGuid().ToString("N")[..8];
        await using var worker = await WorkerProcess.StartAsync(WorkerProcess.Settings(broker, services.Influx.Url, database, "lost-broker-" + Guid.NewGuid().ToString("N")[..6]));

        await broker.DisposeAsync();

        await Eventually.Until(() => Task.FromResult(worker.LinesContaining("MQTT connection lost").Count), n => n > 0, "the worker to log the lost connection", describe: _ => worker.Output);
        Assert.Empty(worker.LinesContaining("the worker is stopping"));
    }
}
