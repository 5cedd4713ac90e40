using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// Builds the MQTTnet connect options from <see cref="MqttOptions"/> (TLS with a farm CA, client certificate,
/// credentials, protocol version) and turns a failed connect into one sentence naming the setting to look at.
/// Certificate files are read at each connect, so a renewed certificate is picked up without a restart. The one
/// builder of both MQTT clients: the ingestion session and the alert publisher's (<see cref="ForPublisher"/>).
/// </summary>
internal sealed class MqttConnectionOptions
{
    private const string P = "PrintFarm:Mqtt";
    private readonly MqttOptions _options;
    private readonly ILogger _logger;
    private string? _tlsProblem;
    private bool _tlsAccepted;
    private readonly string _clientId;
    private readonly bool _publisher;
    private readonly uint _maximumPacketSize;

    /// <summary>Room a Maximum Packet Size leaves above the payload limit: fixed header, a 64 KiB topic, packet id, properties.</summary>
    internal const int PacketOverhead = 128 * 1024;

    public MqttConnectionOptions(MqttOptions options, ILogger logger)
        : this(options, logger, options.ClientId, publisher: false)
    {
        _maximumPacketSize = (uint)Math.Max(0, options.MaximumPacketSize);
        if (options.UseTls && !options.ValidateServerName)
        {
            Log.MqttServerNameNotValidated(logger, options.Host);
        }
    }

    private MqttConnectionOptions(MqttOptions options, ILogger logger, string clientId, bool publisher)
    {
        _options = options;
        _logger = logger;
        _clientId = clientId;
        _publisher = publisher;
    }

    /// <summary>
    /// The same broker, TLS, credentials and protocol version under another client id with a clean session: a client
    /// that only publishes (alerts) needs nothing kept at the broker and must not take over the ingestion session.
    /// </summary>
    public static MqttConnectionOptions ForPublisher(MqttOptions options, string clientId, ILogger logger) => new(options, logger, clientId, publisher: true);

    /// <summary>Options for one connect attempt.</summary>
    public MqttClientOptions Build()
    {
        _tlsProblem = null;
        _tlsAccepted = false;
        var o = _options;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(o.Host, o.Port)
            .WithClientId(_clientId)
            .WithKeepAlivePeriod(o.KeepAlive)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_publisher)
        {
            builder.WithProtocolVersion(o.IsV311 ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500).WithCleanStart(true);
        }
        else if (o.IsV311)
        {
            // 3.1.1 has no session expiry: the broker keeps a clean-session=false session until its own limit
            // (Mosquitto: persistent_client_expiration, default never).
            builder.WithProtocolVersion(MqttProtocolVersion.V311).WithCleanSession(false);
        }
        else
        {
            builder.WithProtocolVersion(MqttProtocolVersion.V500)
                .WithCleanStart(false)
                .WithSessionExpiryInterval((uint)o.SessionExpiry.TotalSeconds)
                // Messages are acknowledged once journaled: this bounds what the broker sends ahead (MQTTnet's own
                // receive queue). 3.1.1 has no such property: there only the broker's max_inflight_messages bounds it.
                .WithReceiveMaximum((ushort)Math.Clamp(o.ReceiveMaximum, 1, ushort.MaxValue));
            if (_maximumPacketSize > 0)
            {
                builder.WithMaximumPacketSize(_maximumPacketSize);
            }
        }

        if (!string.IsNullOrEmpty(o.Username))
        {
            builder.WithCredentials(o.Username, o.Password);
        }

        if (o.UseTls)
        {
            var ca = string.IsNullOrEmpty(o.CaFile) ? null : LoadCa(o.CaFile);
            var clientCertificate = string.IsNullOrEmpty(o.ClientCertificateFile) ? null : LoadClientCertificate(o.ClientCertificateFile, o.ClientKeyFile);
            builder.WithTlsOptions(t =>
            {
                t.UseTls().WithTargetHost(o.Host).WithCertificateValidationHandler(e => ValidateServer(e, ca));
                if (clientCertificate is not null)
                {
                    t.WithClientCertificates([clientCertificate]);
                }
            });
        }

        return builder.Build();
    }

    /// <summary>The broker answered the CONNECT: anything but success becomes an exception naming the reason and the setting.</summary>
    public void ThrowIfRefused(MqttClientConnectResult result)
    {
        if (result.ResultCode == MqttClientConnectResultCode.Success)
        {
            return;
        }

        // A 3.1.1-only broker answers an MQTT 5 CONNECT with a 3.1.1 CONNACK (return codes 1–5), which arrives here
        // as the raw number: name it as its MQTT 5 equivalent.
        var code = (int)result.ResultCode switch
        {
            1 => MqttClientConnectResultCode.UnsupportedProtocolVersion,
            2 => MqttClientConnectResultCode.ClientIdentifierNotValid,
            3 => MqttClientConnectResultCode.ServerUnavailable,
            4 => MqttClientConnectResultCode.BadUserNameOrPassword,
            5 => MqttClientConnectResultCode.NotAuthorized,
            _ => result.ResultCode,
        };
        var reason = string.IsNullOrEmpty(result.ReasonString) ? string.Empty : $" \"{result.ReasonString}\"";
        throw new MqttConnectRefusedException($"the broker refused the connection: {code}{reason}; {Hint(code)}");
    }

    /// <summary>One sentence for the log: what failed and which setting to look at.</summary>
    public string Describe(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (ex is MqttConnectRefusedException or MqttSettingException)
        {
            return ex.Message;
        }

        if (_tlsProblem is not null)
        {
            return "TLS: " + _tlsProblem;
        }

        // Depending on the path, MQTTnet reports a refusing CONNACK as an exception naming the code.
        var refused = Chain(ex).OfType<MQTTnet.Adapter.MqttConnectingFailedException>().FirstOrDefault();
        if (refused is not null)
        {
            foreach (var code in Enum.GetValues<MqttClientConnectResultCode>())
            {
                if (code != MqttClientConnectResultCode.Success && refused.Message.Contains(code.ToString(), StringComparison.Ordinal))
                {
                    return $"the broker refused the connection: {code}; {Hint(code)}";
                }
            }
        }

        var inner = Innermost(ex);
        if (_options.UseTls && _tlsAccepted && string.IsNullOrEmpty(_options.ClientCertificateFile) && IsConnectionDrop(ex))
        {
            // TLS 1.3: the broker checks the client certificate after the client considers the handshake done,
            // so a missing certificate shows up as a dropped connection.
            return $"TLS: the broker closed the connection after the handshake ({inner.Message}); if it requires client certificates, set {P}:ClientCertificateFile and {P}:ClientKeyFile";
        }

        if (_options.UseTls && Chain(ex).Any(e => e is AuthenticationException))
        {
            var certificate = string.IsNullOrEmpty(_options.ClientCertificateFile)
                ? $"; if it requires client certificates, set {P}:ClientCertificateFile and {P}:ClientKeyFile"
                : $"; check {P}:ClientCertificateFile and {P}:ClientKeyFile";
            return $"TLS handshake failed ({inner.Message}); check that the broker listens with TLS on {P}:Port{certificate}";
        }

        if (!_options.UseTls && Chain(ex).Any(e => e is AuthenticationException or IOException) && _options.Port is 8883)
        {
            return $"{inner.Message}; port 8883 is usually TLS: set {P}:UseTls";
        }

        return ex.Message == inner.Message ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    private string Hint(MqttClientConnectResultCode code) => code switch
    {
        MqttClientConnectResultCode.BadUserNameOrPassword or MqttClientConnectResultCode.NotAuthorized =>
            $"check {P}:Username and {P}:Password or {P}:PasswordFile",
        MqttClientConnectResultCode.UnsupportedProtocolVersion =>
            $"the broker does not speak MQTT {_options.ProtocolVersion}; set {P}:ProtocolVersion to {(_options.IsV311 ? "5" : "3.1.1")}",
        MqttClientConnectResultCode.ClientIdentifierNotValid => $"check {P}:ClientId",
        _ => "see the broker's log",
    };

    private bool ValidateServer(MqttClientCertificateValidationEventArgs e, X509Certificate2Collection? ca)
    {
        var errors = e.SslPolicyErrors;
        if (e.Certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            _tlsProblem = "the broker sent no certificate";
            return false;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) && _options.ValidateServerName)
        {
            _tlsProblem = $"the broker's certificate does not name '{_options.Host}' ({P}:Host); connect by a name the certificate holds, or set {P}:ValidateServerName to false";
            return false;
        }

        if (ca is not null)
        {
            // Trust exactly the configured CA, not the system store: farm CAs and printer certificates are private.
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (e.Chain is not null)
            {
                foreach (var element in e.Chain.ChainElements)
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }

            using var certificate = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
            if (!chain.Build(certificate))
            {
                var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
                _tlsProblem = $"the broker's certificate is not signed by the CA in {P}:CaFile ({status})";
                return false;
            }
        }
        else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            _tlsProblem = $"the broker's certificate is not trusted by the system's certificate store; set {P}:CaFile to the CA that signed it";
            return false;
        }

        _tlsAccepted = true;
        return true;
    }

    private static X509Certificate2Collection LoadCa(string path)
    {
        try
        {
            var ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(path);
            if (ca.Count == 0)
            {
                throw new MqttSettingException($"{P}:CaFile '{path}' holds no PEM certificate");
            }

            return ca;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new MqttSettingException($"{P}:CaFile '{path}' cannot be read: {ex.Message}");
        }
    }

    private static X509Certificate2 LoadClientCertificate(string certificatePath, string? keyPath)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certificatePath, string.IsNullOrEmpty(keyPath) ? null : keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new MqttSettingException($"{P}:ClientCertificateFile '{certificatePath}' with {P}:ClientKeyFile '{keyPath}' cannot be loaded: {ex.Message}");
        }
    }

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    private static Exception Innermost(Exception ex) => Chain(ex).Last();

    private static bool IsConnectionDrop(Exception ex) =>
        Chain(ex).Any(e => e is IOException or SocketException or AuthenticationException or MQTTnet.Exceptions.MqttCommunicationException);
}

/// <summary>The broker answered CONNECT with a refusal.</summary>
internal sealed class MqttConnectRefusedException(string message) : Exception(message);

/// <summary>A setting (a certificate file) cannot be used.</summary>
internal sealed class MqttSettingException(string message) : Exception(message);
