using PrintFarm.Worker.Cluster;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.IntegrationTests.Scale;

/// <summary>The clustered mode's settings are checked at start, and its names map topics and printers as the servers do.</summary>
public sealed class ClusterOptionsTests
{
    [Theory]
    [InlineData("Partitions", "0", "PrintFarm:Cluster:Partitions is '0'")]
    [InlineData("Partitions", "2000", "PrintFarm:Cluster:Partitions is '2000'")]
    [InlineData("Replicas", "0", "PrintFarm:Cluster:Replicas is '0'")]
    [InlineData("Owned", "8", "PrintFarm:Cluster:Owned is '8'")]
    [InlineData("Owned", "3-1", "PrintFarm:Cluster:Owned is '3-1'")]
    [InlineData("Owned", "a-b", "PrintFarm:Cluster:Owned is 'a-b'")]
    [InlineData("Stream", "PRINT.FARM", "PrintFarm:Cluster:Stream is 'PRINT.FARM'")]
    [InlineData("CheckpointBucket", "", "PrintFarm:Cluster:CheckpointBucket is ''")]
    [InlineData("Url", " ", "PrintFarm:Cluster:Url is ' '")]
    [InlineData("Retention", "00:10:00", "PrintFarm:Cluster:Retention is '00:10:00'")]
    [InlineData("LeaseTtl", "00:00:01", "PrintFarm:Cluster:LeaseTtl is '00:00:01'")]
    [InlineData("WorkerId", "a.b", "PrintFarm:Cluster:WorkerId is 'a.b'")]
    [InlineData("LeaseBucket", "a b", "PrintFarm:Cluster:LeaseBucket is 'a b'")]
    public void A_wrong_cluster_setting_is_refused_naming_it(string setting, string value, string expected)
    {
        var o = new PrintFarmOptions();
        o.Cluster.Enabled = true;
        o.Cluster.Partitions = 8;
        switch (setting)
        {
            case "Partitions": o.Cluster.Partitions = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "Replicas": o.Cluster.Replicas = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "Owned": o.Cluster.Owned = value; break;
            case "Stream": o.Cluster.Stream = value; break;
            case "CheckpointBucket": o.Cluster.CheckpointBucket = value; break;
            case "Url": o.Cluster.Url = value; break;
            case "Retention": o.Cluster.Retention = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "LeaseTtl": o.Cluster.LeaseTtl = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "WorkerId": o.Cluster.WorkerId = value; break;
            case "LeaseBucket": o.Cluster.LeaseBucket = value; break;
        }

        var failures = new PrintFarmOptionsValidator().Validate(null, o).Failures ?? [];
        Assert.Contains(failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_defaults_pass_and_are_not_checked_while_the_mode_is_off()
    {
        var o = new PrintFarmOptions();
        static string[] ClusterFailures(PrintFarmOptions o) =>
            (new PrintFarmOptionsValidator().Validate(null, o).Failures ?? []).Where(f => f.StartsWith("PrintFarm:Cluster:", StringComparison.Ordinal)).ToArray();
        Assert.Empty(ClusterFailures(o));
        o.Cluster.Partitions = 0;
        Assert.Empty(ClusterFailures(o));
        o.Cluster.Enabled = true;
        Assert.NotEmpty(ClusterFailures(o));
        o.Cluster.Partitions = 64;
        Assert.Empty(ClusterFailures(o));
    }

    [Theory]
    [InlineData(null, new[] { 0, 1, 2, 3, 4, 5, 6, 7 })]
    [InlineData("0-3", new[] { 0, 1, 2, 3 })]
    [InlineData(" 0, 2 ,4-5,5 ", new[] { 0, 2, 4, 5 })]
    [InlineData("7", new[] { 7 })]
    public void Owned_partitions_are_numbers_and_ranges(string? owned, int[] expected)
    {
        var cluster = new ClusterOptions { Partitions = 8, Owned = owned };
        Assert.True(cluster.TryOwnedPartitions(out var partitions));
        Assert.Equal(expected, partitions);
    }

    [Theory]
    [InlineData("parts.7.printfarm.p1.event", "printfarm/p1/event")]
    [InlineData("parts.63.device.01S00A.report", "device/01S00A/report")]
    [InlineData("parts.0.k1.klipper.status", "k1/klipper/status")]
    [InlineData("other.p1.event", "other/p1/event")]
    [InlineData("$MQTT.msgs.parts.3.printfarm.p1.event", "printfarm/p1/event")]
    public void A_partition_subject_carries_the_printers_MQTT_topic(string subject, string topic) =>
        Assert.Equal(topic, new JetStreamLayout("S", "parts", 64, "b").TopicOf(subject));

    [Fact]
    public void A_NATS_URL_list_with_credentials_is_masked_in_log_lines_and_readyz()
    {
        var masked = SecretMasking.Text("nats://printfarm-worker:s3cret-one@nats-1:4222,nats://printfarm-worker:s3cret-one@nats-2:4222");
        Assert.DoesNotContain("s3cret-one", masked, StringComparison.Ordinal);
        Assert.Contains("nats-2:4222", masked, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_of_consumers_and_checkpoint_keys_are_per_partition()
    {
        var layout = new JetStreamLayout("PRINTFARM", "parts", 64, "printfarm_checkpoints");
        Assert.Equal("parts.7.>", layout.PartitionSubject(7));
        Assert.Equal("PRINTFARM_p0007_g3", layout.ConsumerName(7, 3));
        Assert.Equal(3, layout.ConsumerGeneration(7, "PRINTFARM_p0007_g3"));
        Assert.Null(layout.ConsumerGeneration(7, "PRINTFARM_p0007"));
        Assert.Null(layout.ConsumerGeneration(7, "PRINTFARM_mqtt_p0007_g3"));
        Assert.Equal("PRINTFARM_p0007", layout.UngeneratedConsumerName(7));
        Assert.Equal("$MQTT.msgs.parts.7.>", layout.MqttPartitionSubject(7));
        Assert.Equal("PRINTFARM_mqtt_p0007_g12", layout.MqttConsumerName(7, 12));
        Assert.Equal(12, layout.MqttConsumerGeneration(7, "PRINTFARM_mqtt_p0007_g12"));
        Assert.Null(layout.MqttConsumerGeneration(7, "PRINTFARM_mqtt_p0070_g1"));
        Assert.Null(layout.MqttConsumerGeneration(7, "$MQTT_rmsgs_44jzkV9D"));
        Assert.Equal("p0007", JetStreamLayout.CheckpointKey(7));
    }
}
