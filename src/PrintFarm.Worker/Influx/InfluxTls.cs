using System.Security.Cryptography.X509Certificates;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Influx;

/// <summary>The HTTP handler of the InfluxDB client: with <see cref="InfluxOptions.CaFile"/>, HTTPS trusts exactly that CA (host names are still checked).</summary>
internal static class InfluxTls
{
    public static HttpMessageHandler CreateHandler(InfluxOptions options)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (!string.IsNullOrEmpty(options.CaFile))
        {
            var ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(options.CaFile);
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(ca);
            handler.SslOptions.CertificateChainPolicy = policy;
        }

        return handler;
    }
}
