using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// The broker inside the worker (<c>PrintFarm:Mqtt:EmbeddedBroker</c>, MQTTnet.Server): printers publish to the
/// worker's host; the worker's own MQTT client connects to it over loopback like to any broker, so ingestion is the
/// same code either way. Registered before the ingestion service, so it listens before the client connects and stops
/// after it; when switched off it does nothing. Sessions are kept while the worker runs (the client's persistent session and its QoS 1 queue).
/// Who may connect and what each client may do: <see cref="EmbeddedBrokerAccess"/>; where it listens: loopback only
/// until credentials or <c>AllowAnonymous</c> are configured, TLS on <c>TlsPort</c> with a <c>CertificateFile</c>.
/// </summary>
internal sealed class EmbeddedBrokerService : IHostedService, IDisposable
{
    private readonly EmbeddedBrokerOptions _options;
    private readonly ILogger<EmbeddedBrokerService> _logger;
    private readonly EmbeddedBrokerAccess? _access;
    private readonly LogThrottle _refusals;
    private MqttServer? _server;

    public EmbeddedBrokerService(IOptions<PrintFarmOptions> options, PrinterAdapters adapters, TimeProvider time, ILogger<EmbeddedBrokerService> logger)
    {
        var o = options.Value;
        _refusals = new LogThrottle(time, TimeSpan.FromSeconds(10));
        _options = o.Mqtt.EmbeddedBroker;
        _logger = logger;
        if (_options.Enabled)
        {
            _access = new EmbeddedBrokerAccess(
                _options,
                o.Mqtt.Password ?? string.Empty,
                [o.Mqtt.ClientId, o.Alerts.EffectiveClientId(o.Mqtt.ClientId)],
                adapters.All.SelectMany(a => a.Topics).Select(t => t.Pattern),
                o.Alerts.TopicPrefix);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var (v4, v6) = BoundAddresses(_options);
        var tls = !string.IsNullOrEmpty(_options.CertificateFile);
        // With TLS the plain listener stays on loopback: the worker's own client (and local tools) use it, printers use TLS.
        var (plainV4, plainV6) = tls ? (IPAddress.Loopback, IPAddress.IPv6Loopback) : (v4, v6);
        var builder = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointPort(_options.Port)
            .WithDefaultEndpointBoundIPAddress(plainV4)
            .WithDefaultEndpointBoundIPV6Address(plainV6)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(_options.MaxPendingMessagesPerClient);
        if (tls)
        {
            builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointPort(_options.TlsPort)
                .WithEncryptedEndpointBoundIPAddress(v4)
                .WithEncryptedEndpointBoundIPV6Address(v6)
                .WithEncryptionCertificate(LoadCertificate(_options));
        }

        _server = new MqttServerFactory().CreateMqttServer(builder.Build());
        _server.ValidatingConnectionAsync += ValidateAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        await _server.StartAsync().ConfigureAwait(false);
        var clients = (_options.HasCredentials, _options.AllowAnonymous) switch
        {
            (_, true) => "ANONYMOUS clients accepted from anywhere (AllowAnonymous)",
            (true, false) => $"login required: {(string.IsNullOrEmpty(_options.Username) ? "no" : "a")} shared user, {_options.Printers.Count} printer users",
            _ => "anonymous clients from loopback only: configure Username or Printers to accept printers from the network",
        };
        var where = v4.Equals(IPAddress.Any) || v6.Equals(IPAddress.IPv6Any) ? "every interface" : $"{(v4.Equals(IPAddress.None) ? v6 : v4)}";
        Log.EmbeddedBrokerStarted(_logger, _options.Port, $"{(tls ? $"loopback; TLS on {where}, port {_options.TlsPort}" : where)}; {clients}");
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

    /// <summary>The IPv4 and IPv6 addresses to bind (<see cref="IPAddress.None"/>: no listener of that family).</summary>
    internal static (IPAddress V4, IPAddress V6) BoundAddresses(EmbeddedBrokerOptions o)
    {
        if (string.IsNullOrEmpty(o.Address))
        {
            return o.HasCredentials || o.AllowAnonymous ? (IPAddress.Any, IPAddress.IPv6Any) : (IPAddress.Loopback, IPAddress.IPv6Loopback);
        }

        if (o.Address == "*")
        {
            return (IPAddress.Any, IPAddress.IPv6Any);
        }

        var address = IPAddress.Parse(o.Address);
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? (IPAddress.None, address) : (address, IPAddress.None);
    }

    /// <summary>Where the worker's own client reaches the plain listener: loopback, or the one address it is bound to.</summary>
    internal static string InternalHost(EmbeddedBrokerOptions o)
    {
        if (!string.IsNullOrEmpty(o.CertificateFile) || string.IsNullOrEmpty(o.Address) || o.Address == "*" || !IPAddress.TryParse(o.Address, out var address))
        {
            return "127.0.0.1";
        }

        return address.Equals(IPAddress.Any) ? "127.0.0.1" : address.Equals(IPAddress.IPv6Any) ? "::1" : address.ToString();
    }

    private static X509Certificate2 LoadCertificate(EmbeddedBrokerOptions o)
    {
        var file = o.CertificateFile!;
        if (file.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(file, password: null);
        }

        // A PEM key is an ephemeral key; SslStream as a server wants it in a PKCS#12 container.
        using var pem = X509Certificate2.CreateFromPemFile(file, o.CertificateKeyFile);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    private Task ValidateAsync(ValidatingConnectionEventArgs e)
    {
        if (string.IsNullOrEmpty(e.ClientId))
        {
            // mosquitto_pub and many printer firmwares send an empty client id and let the broker assign one (MQTT 3.1.1 §3.1.3.1, 5.0 §3.1.3.1).
            e.AssignedClientIdentifier = "auto-" + Guid.NewGuid().ToString("N");
        }

        var (code, why) = _access!.Authenticate(e.ClientId ?? string.Empty, e.UserName, e.Password, e.RemoteEndPoint);
        if (code != MqttConnectReasonCode.Success)
        {
            e.ReasonCode = code;
            if (_refusals.ShouldLog("connect:" + ((e.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "?"), out var suppressed))
            {
                Log.EmbeddedBrokerRefusedClient(_logger, e.ClientId ?? string.Empty, e.UserName ?? string.Empty, e.RemoteEndPoint?.ToString() ?? "?", why ?? code.ToString(), suppressed);
            }
        }

        return Task.CompletedTask;
    }

    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        // Publishes the broker makes itself (retained messages, wills) have no client id.
        if (e.ClientId is not null && !_access!.MayPublish(e.UserName, e.ApplicationMessage.Topic))
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = MQTTnet.Protocol.MqttPubAckReasonCode.NotAuthorized;
            if (_refusals.ShouldLog("publish:" + e.UserName, out var suppressed))
            {
                Log.EmbeddedBrokerRefusedPublish(_logger, e.ClientId, e.UserName ?? string.Empty, e.ApplicationMessage.Topic, suppressed);
            }
        }

        return Task.CompletedTask;
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (!_access!.MaySubscribe(e.UserName, e.TopicFilter.Topic))
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            if (_refusals.ShouldLog("subscribe:" + e.UserName, out var suppressed))
            {
                Log.EmbeddedBrokerRefusedSubscribe(_logger, e.ClientId, e.UserName ?? string.Empty, e.TopicFilter.Topic, suppressed);
            }
        }

        return Task.CompletedTask;
    }
}
