namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// The real servers every integration test shares: Mosquitto, InfluxDB 1.x and VictoriaMetrics, started once per
/// test run. Tests isolate themselves by database name and MQTT client id and printer ids, never by sharing state.
/// </summary>
public sealed class ServicesFixture : IAsyncLifetime
{
    public MosquittoServer Mqtt { get; private set; } = null!;

    public InfluxDbServer Influx { get; private set; } = null!;

    public VictoriaMetricsServer Victoria { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var mqtt = MosquittoServer.StartAsync();
        var influx = InfluxDbServer.StartAsync();
        var victoria = VictoriaMetricsServer.StartAsync();
        Mqtt = await mqtt;
        Influx = await influx;
        Victoria = await victoria;
    }

    public async Task DisposeAsync()
    {
        await Mqtt.DisposeAsync();
        await Influx.DisposeAsync();
        await Victoria.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<ServicesFixture>
{
    public const string Name = "real services";
}
