namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Settings under <c>PrintFarm:Mqtt:EmbeddedBroker</c>: an MQTT broker inside the worker, so a small farm needs no
/// separate Mosquitto. Printers publish to the worker's host on <see cref="Port"/>; the worker's own MQTT client then
/// connects to it over loopback with a credential made at start (it replaces <c>Mqtt:Host</c>, <c>Mqtt:Port</c> and the
/// credentials). Closed by default, as Mosquitto 2 is: with no credentials configured it listens on loopback only; a
/// client from the network must log in (<see cref="Username"/> or one of <see cref="Printers"/>) unless
/// <see cref="AllowAnonymous"/> is set. See docs/operations.md, "Security".
/// </summary>
public sealed class EmbeddedBrokerOptions
{
    /// <summary>Run the embedded broker. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>TCP port of the plain (unencrypted) listener. Default 1883.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>
    /// Address the listeners bind to: an IPv4 or IPv6 address, or <c>*</c> for every interface. Default empty: every
    /// interface when credentials (<see cref="Username"/>, <see cref="Printers"/>) or <see cref="AllowAnonymous"/> are
    /// configured, else loopback only (127.0.0.1 and ::1), so an unconfigured broker is not reachable from the network.
    /// </summary>
    public string? Address { get; set; }

    /// <summary>
    /// Accept clients that give no user name from any address. Default false: anonymous clients are accepted only from
    /// loopback and only while no credentials are configured (the demo's case).
    /// </summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>
    /// One shared user name for the whole farm (for example a gateway or a tool); it may publish on any topic but the
    /// alert topics and subscribe to any one printer's topics, never to all printers at once. Default unset.
    /// </summary>
    public string? Username { get; set; }

    /// <summary>Password that goes with <see cref="Username"/>. Default unset.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Per-printer credentials, keyed by printer id (the <c>{printer}</c> level of the topics, for Bambu the serial):
    /// <c>Printers:prusa-01:Password</c> or <c>Printers:prusa-01:PasswordFile</c>. The user name is the printer id; that
    /// user may publish and subscribe only under its own topics. Default empty.
    /// </summary>
    public Dictionary<string, PrinterCredentialOptions> Printers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>TCP port of the TLS listener, used when <see cref="CertificateFile"/> is set. Default 8883.</summary>
    public int TlsPort { get; set; } = 8883;

    /// <summary>
    /// Server certificate for the TLS listener: a PEM file (with <see cref="CertificateKeyFile"/>, or the key in the same
    /// file) or a PKCS#12 <c>.pfx</c>/<c>.p12</c> without password. When set, the plain listener binds loopback only (the
    /// worker's own client uses it) and printers connect with TLS on <see cref="TlsPort"/>. Default unset: no TLS.
    /// </summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>; unset: the key is in the certificate file. Default unset.</summary>
    public string? CertificateKeyFile { get; set; }

    /// <summary>QoS 1 messages the broker queues per client while it is slow or away; the oldest are dropped beyond. Default 100000.</summary>
    public int MaxPendingMessagesPerClient { get; set; } = 100_000;

    /// <summary>True when any credential is configured (the shared user or a printer).</summary>
    public bool HasCredentials => !string.IsNullOrEmpty(Username) || Printers.Count > 0;
}

/// <summary>The password of one printer of <see cref="EmbeddedBrokerOptions.Printers"/>.</summary>
public sealed class PrinterCredentialOptions
{
    /// <summary>The printer's password. Default unset.</summary>
    public string? Password { get; set; }

    /// <summary>File holding the password (first line; docker and systemd secrets); wins over <see cref="Password"/>. Default unset.</summary>
    public string? PasswordFile { get; set; }
}
