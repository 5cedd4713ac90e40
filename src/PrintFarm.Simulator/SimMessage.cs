namespace PrintFarm.Simulator;

/// <summary>One MQTT publish of the trace.</summary>
/// <param name="Time">Simulated time it is sent.</param>
/// <param name="Topic">Topic.</param>
/// <param name="Payload">Payload bytes, as the printer software sends them.</param>
/// <param name="Qos">QoS level, 0 or 1.</param>
/// <param name="Retain">Retain flag.</param>
public readonly record struct SimMessage(DateTimeOffset Time, string Topic, ReadOnlyMemory<byte> Payload, int Qos, bool Retain);
