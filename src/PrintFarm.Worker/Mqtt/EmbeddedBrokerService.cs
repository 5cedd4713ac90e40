using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// The broker inside the worker (<c>PrintFarm:Mqtt:EmbeddedBroker</c>, MQTTnet.Server): printers publish to the
/// worker's host; the worker's own MQTT client connects to it over loopback like to any broker, so ingestion is the
/// same code either way. Registered before the ingestion service, so it listens before the client connects and stops
/// after it; when switched off it does nothing. Sessions are kept while the worker runs (the client's persistent session and its QoS 1 queue).
/// </summary>
internal sealed class EmbeddedBrokerService : IHostedService, IDisposable
{
    private readonly EmbeddedBrokerOptions _options;
    private readonly ILogger<EmbeddedBrokerService> _logger;
    private MqttServer? _server;

    public EmbeddedBrokerService(IOptions<PrintFarmOptions> options, ILogger<EmbeddedBrokerService> logger)
    {
        _options = options.Value.Mqtt.EmbeddedBroker;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var options = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointPort(_options.Port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(_options.MaxPendingMessagesPerClient)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(options);
        _server.ValidatingConnectionAsync += ValidateAsync;
        await _server.StartAsync().ConfigureAwait(false);
        Log.EmbeddedBrokerStarted(_logger, _options.Port, string.IsNullOrEmpty(_options.Username) ? "anonymous clients" : "user " + _options.Username);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true })
        {
            await _server.StopAsync().ConfigureAwait(false);
            Log.EmbeddedBrokerStopped(_logger);
        }
    }

    public void Dispose() => _server?.Dispose();

    private Task ValidateAsync(ValidatingConnectionEventArgs e)
    {
        if (string.IsNullOrEmpty(e.ClientId))
        {
            // mosquitto_pub and many printer firmwares send an empty client id and let the broker assign one (MQTT 3.1.1 §3.1.3.1, 5.0 §3.1.3.1).
            e.AssignedClientIdentifier = "auto-" + Guid.NewGuid().ToString("N");
        }

        if (!string.IsNullOrEmpty(_options.Username)
            && !(string.Equals(e.UserName, _options.Username, StringComparison.Ordinal) && string.Equals(e.Password, _options.Password, StringComparison.Ordinal)))
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            Log.EmbeddedBrokerRefused(_logger, e.ClientId, e.UserName ?? string.Empty);
        }

        return Task.CompletedTask;
    }
}
