using System.Threading.Channels;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Ingestion;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Pipeline;

/// <summary>
/// The two bounded queues of the worker: MQTT → pipeline (<see cref="Inbound"/>) and pipeline → InfluxDB writer
/// (<see cref="Lines"/>). Both wait when full, so a slow database slows the pipeline, which slows the MQTT client,
/// which leaves messages with the broker: back-pressure instead of loss.
/// </summary>
internal sealed class PipelineChannels
{
    public PipelineChannels(IOptions<PrintFarmOptions> options)
    {
        var o = options.Value;
        Inbound = Channel.CreateBounded<InboundMessage>(new BoundedChannelOptions(o.Mqtt.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        Lines = Channel.CreateBounded<string>(new BoundedChannelOptions(o.Influx.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>Messages as received from the broker.</summary>
    public Channel<InboundMessage> Inbound { get; }

    /// <summary>Line-protocol lines waiting to be written.</summary>
    public Channel<string> Lines { get; }
}
