using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Alerts;

/// <summary>
/// Bounded queue from the pipeline to the <see cref="AlertPublisherService"/>. The pipeline never waits on it: a
/// transition that does not fit is counted and logged (it is still in InfluxDB as an <c>alert</c> point).
/// </summary>
internal sealed class AlertQueue
{
    private readonly Channel<AlertTransition> _channel;
    private readonly int _capacity;
    private readonly PrintFarmInstrumentation _metrics;
    private readonly ILogger<AlertQueue> _logger;

    public AlertQueue(IOptions<PrintFarmOptions> options, PrintFarmInstrumentation metrics, ILogger<AlertQueue> logger)
    {
        _capacity = options.Value.Alerts.QueueCapacity;
        _metrics = metrics;
        _logger = logger;
        _channel = Channel.CreateBounded<AlertTransition>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public ChannelReader<AlertTransition> Reader => _channel.Reader;

    /// <summary>Hands the pipeline's transitions over; returns at once.</summary>
    public void Enqueue(IReadOnlyList<AlertTransition> alerts)
    {
        foreach (var alert in alerts)
        {
            _metrics.AlertTransitions.Add(1, new("rule", alert.Rule), new("state", alert.StateName));
            if (!_channel.Writer.TryWrite(alert))
            {
                _metrics.AlertsDropped.Add(1);
                Log.AlertDropped(_logger, _capacity, alert.StateName, alert.Rule, PointEncoder.ScopeName(alert.Scope), alert.Subject);
            }
        }
    }
}
