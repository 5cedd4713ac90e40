using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>PEM files of a test PKI: a farm CA, a server certificate for <c>localhost</c>, a client certificate, and an unrelated CA.</summary>
public sealed record TestPki(string Folder, string CaFile, string ServerCertificateFile, string ServerKeyFile, string ClientCertificateFile, string ClientKeyFile, string OtherCaFile)
{
    /// <summary>Generates the files with .NET's certificate APIs (ECDSA P-256), valid from yesterday to tomorrow.</summary>
    public static TestPki Create(string folder)
    {
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = DateTimeOffset.UtcNow.AddDays(1);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = CreateCa("CN=PrintFarm Test Farm CA", caKey, notBefore, notAfter);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = CreateCa("CN=Somebody Else's CA", otherKey, notBefore, notAfter);

        string Write(string name, string pem)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, pem);
            return path;
        }

        var (serverPem, serverKeyPem) = Issue(ca, "CN=localhost", "1.3.6.1.5.5.7.3.1", san => san.AddDnsName("localhost"), notBefore, notAfter);
        var (clientPem, clientKeyPem) = Issue(ca, "CN=printfarm-worker", "1.3.6.1.5.5.7.3.2", null, notBefore, notAfter);
        return new TestPki(
            folder,
            Write("ca.pem", ca.ExportCertificatePem()),
            Write("server.pem", serverPem),
            Write("server.key", serverKeyPem),
            Write("client.pem", clientPem),
            Write("client.key", clientKeyPem),
            Write("other-ca.pem", other.ExportCertificatePem()));
    }

    private static X509Certificate2 CreateCa(string subject, ECDsa key, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private static (string Certificate, string Key) Issue(X509Certificate2 ca, string subject, string usage, Action<SubjectAlternativeNameBuilder>? names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (names is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            names(san);
            request.CertificateExtensions.Add(san.Build());
        }

        using var certificate = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(12));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}

/// <summary>
/// A real Mosquitto configured by the test for TLS (certificates from <see cref="TestPki"/>) and a password file made
/// with <c>mosquitto_passwd</c>; anonymous access off. A second, plain listener on loopback (same password file) lets
/// the test's printers publish without TLS.
/// </summary>
public sealed class TlsBroker : IAsyncDisposable
{
    public const string Username = "farm-worker";

    private readonly ServerProcess _process;

    private TlsBroker(ServerProcess process, TestPki pki, int tlsPort, int plainPort, string password)
    {
        _process = process;
        Pki = pki;
        TlsPort = tlsPort;
        PlainPort = plainPort;
        Password = password;
    }

    public TestPki Pki { get; }

    public int TlsPort { get; }

    public int PlainPort { get; }

    /// <summary>The password of <see cref="Username"/> (random per broker).</summary>
    public string Password { get; }

    /// <summary>Starts the broker; <paramref name="requireClientCertificate"/> makes the TLS listener ask for a client certificate signed by the farm CA.</summary>
    public static async Task<TlsBroker> StartAsync(bool requireClientCertificate)
    {
        var executable = ServerProcess.Find("mosquitto") ?? throw new InvalidOperationException("mosquitto is not installed (./build.sh test installs it)");
        var passwd = ServerProcess.Find("mosquitto_passwd") ?? throw new InvalidOperationException("mosquitto_passwd is not installed (package mosquitto)");
        var folder = ServerProcess.NewFolder("mosquitto-tls");
        var pki = TestPki.Create(folder);
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var passwordFile = Path.Combine(folder, "passwd");
        await RunAsync(passwd, ["-c", "-b", passwordFile, Username, password]);

        // Mosquitto may drop to the mosquitto user when started as root: let it read its files.
        if (!OperatingSystem.IsWindows())
        {
            foreach (var file in Directory.EnumerateFiles(folder))
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
        }
        var tlsPort = ServerProcess.FreePort();
        var plainPort = ServerProcess.FreePort();
        var config = Path.Combine(folder, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            per_listener_settings false
            allow_anonymous false
            password_file {passwordFile}
            persistence false
            log_dest stdout
            log_type error
            log_type warning
            log_type notice
            listener {tlsPort} 127.0.0.1
            cafile {pki.CaFile}
            certfile {pki.ServerCertificateFile}
            keyfile {pki.ServerKeyFile}
            require_certificate {(requireClientCertificate ? "true" : "false")}
            listener {plainPort} 127.0.0.1
            """);
        var process = await ServerProcess.StartAsync(executable, ["-c", config], folder, () => ServerProcess.AcceptsTcpAsync(plainPort), TimeSpan.FromSeconds(20));
        return new TlsBroker(process, pki, tlsPort, plainPort, password);
    }

    /// <summary>A printer stand-in on the plain listener.</summary>
    public Task<TestPublisher> PublisherAsync() => TestPublisher.ConnectAsync("127.0.0.1", PlainPort, Username, Password);

    /// <summary>What the broker logged (for failure messages).</summary>
    public string Output => _process.Output;

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static async Task RunAsync(string executable, string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(executable, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{executable} failed ({process.ExitCode}): {error}");
        }
    }
}
