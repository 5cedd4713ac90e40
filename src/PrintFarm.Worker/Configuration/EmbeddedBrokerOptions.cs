namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Settings under <c>PrintFarm:Mqtt:EmbeddedBroker</c>: an MQTT broker inside the worker, so a small farm needs no
/// separate Mosquitto. Printers publish to the worker's host on <see cref="Port"/>; the worker's own MQTT client then
/// connects to it over loopback (it replaces <c>Mqtt:Host</c>, <c>Mqtt:Port</c> and the credentials).
/// </summary>
public sealed class EmbeddedBrokerOptions
{
    /// <summary>Run the embedded broker. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>TCP port it listens on, on every interface. Default 1883.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>User name clients must give; unset: anonymous clients are accepted. Default unset.</summary>
    public string? Username { get; set; }

    /// <summary>Password that goes with <see cref="Username"/>. Default unset.</summary>
    public string? Password { get; set; }

    /// <summary>QoS 1 messages the broker queues per client while it is slow or away; the oldest are dropped beyond. Default 100000.</summary>
    public int MaxPendingMessagesPerClient { get; set; } = 100_000;
}
