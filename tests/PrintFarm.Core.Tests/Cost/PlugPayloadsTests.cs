using System.Text;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Energy;

namespace PrintFarm.Core.Tests.Cost;

public sealed class PlugPayloadsTests
{
    private static readonly DateTimeOffset Received = new(2026, 3, 2, 13, 5, 12, TimeSpan.Zero);
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "energy", name));

    [Fact]
    public void A_Tasmota_SENSOR_message_gives_its_total_in_kWh_at_its_local_time_read_in_the_farm_zone()
    {
        var result = PlugPayloads.ReadTasmota(Fixture("tasmota-sensor.json"), Berlin, Received, out var reading);

        Assert.True(result.Accepted, result.Detail);
        Assert.Equal(12.345, reading.CounterKwh);
        // 14:05:10 in Berlin in March (CET, UTC+1).
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 13, 5, 10, TimeSpan.Zero), reading.Time);
    }

    [Fact]
    public void A_Shelly_switch_status_gives_its_total_in_kWh_from_Wh_at_its_minute_timestamp()
    {
        var result = PlugPayloads.ReadShelly(Fixture("shelly-switch0.json"), Received, out var reading);

        Assert.True(result.Accepted, result.Detail);
        Assert.Equal(12.345678, reading.CounterKwh, 9);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1772460300), reading.Time);
    }

    [Fact]
    public void Without_a_time_in_the_payload_the_receive_time_stands_in()
    {
        Assert.True(PlugPayloads.ReadTasmota("""{"ENERGY":{"Total":1.5}}"""u8, Berlin, Received, out var tasmota).Accepted);
        Assert.True(PlugPayloads.ReadShelly("""{"id":0,"aenergy":{"total":1500}}"""u8, Received, out var shelly).Accepted);

        Assert.Equal(Received, tasmota.Time);
        Assert.Equal(Received, shelly.Time);
        Assert.Equal(1.5, shelly.CounterKwh);
    }

    [Theory]
    [InlineData("""{"Time":"2026-03-02T14:05:10","ANALOG":{"A0":512}}""", RejectReasons.MissingField)]
    [InlineData("""{"Time":"2026-03-02T14:05:10","ENERGY":{"Total":-1}}""", RejectReasons.InvalidField)]
    [InlineData("""{"Time":"2026-03-02T14:05:10","ENERGY":{"Total":"12"}}""", RejectReasons.InvalidField)]
    [InlineData("""{"Time":"yesterday","ENERGY":{"Total":12}}""", RejectReasons.InvalidField)]
    [InlineData("""{"Time":"2026-03-29T02:30:00","ENERGY":{"Total":12}}""", RejectReasons.InvalidField)]
    [InlineData("""[1,2]""", RejectReasons.InvalidField)]
    [InlineData("""{"ENERGY":""", RejectReasons.InvalidJson)]
    public void A_Tasmota_payload_without_a_usable_counter_or_time_is_refused(string json, string reason)
    {
        var result = PlugPayloads.ReadTasmota(Encoding.UTF8.GetBytes(json), Berlin, Received, out _);

        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
    }

    [Theory]
    [InlineData("""{"id":0,"output":false}""", RejectReasons.MissingField)]
    [InlineData("""{"id":0,"aenergy":{"total":null}}""", RejectReasons.InvalidField)]
    [InlineData("""{"id":0,"aenergy":{"total":5,"minute_ts":"noon"}}""", RejectReasons.InvalidField)]
    [InlineData("""not json""", RejectReasons.InvalidJson)]
    public void A_Shelly_payload_without_a_usable_counter_or_time_is_refused(string json, string reason)
    {
        var result = PlugPayloads.ReadShelly(Encoding.UTF8.GetBytes(json), Received, out _);

        Assert.False(result.Accepted);
        Assert.Equal(reason, result.Reason);
    }

    [Fact]
    public void Arbitrary_bytes_never_throw()
    {
        var random = new Random(21);
        var seeds = new[] { Fixture("tasmota-sensor.json"), Fixture("shelly-switch0.json") };
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])seeds[i % 2].Clone();
            for (var k = random.Next(1, 6); k > 0; k--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var payload = i % 7 == 0 ? bytes[..random.Next(bytes.Length)] : bytes;
            PlugPayloads.ReadTasmota(payload, Berlin, Received, out _);
            PlugPayloads.ReadShelly(payload, Received, out _);
        }
    }
}
