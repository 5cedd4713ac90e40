using System.Net;
using System.Security.Cryptography;
using System.Text;
using MQTTnet.Protocol;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Mqtt;

/// <summary>
/// Who may connect to the embedded broker and what each may do (issue 18 item 12), as Mosquitto's password file and
/// ACL would say it:
/// <list type="bullet">
/// <item>the worker's own clients (ingestion and alerts) log in with a credential made at start, from loopback only;
/// their client ids are reserved, so no other client can take their session over; they may do anything;</item>
/// <item>a printer (<c>Printers:{id}</c>) publishes and subscribes only under its own topics: those whose
/// <c>{printer}</c> level of an adapter's topic pattern is its id;</item>
/// <item>the shared farm user and allowed anonymous clients publish anywhere but under the alert topics and may not
/// subscribe to a filter that reads more than one printer (<c>#</c>, <c>printfarm/+/event</c>).</item>
/// </list>
/// Anonymous clients are accepted only with <c>AllowAnonymous</c>, or from loopback while no credential is configured.
/// </summary>
internal sealed class EmbeddedBrokerAccess
{
    /// <summary>User name of the worker's own clients.</summary>
    public const string InternalUser = "printfarm-worker";

    private readonly EmbeddedBrokerOptions _options;
    private readonly byte[] _internalPassword;
    private readonly HashSet<string> _internalClientIds;
    private readonly (string?[] Levels, int Printer)[] _patterns;
    private readonly string _alertPrefix;

    public EmbeddedBrokerAccess(EmbeddedBrokerOptions options, string internalPassword, IEnumerable<string> internalClientIds, IEnumerable<string> printerTopicPatterns, string alertPrefix)
    {
        _options = options;
        _internalPassword = Encoding.UTF8.GetBytes(internalPassword);
        _internalClientIds = new HashSet<string>(internalClientIds, StringComparer.Ordinal);
        _patterns = printerTopicPatterns
            .Select(p => p.Split('/'))
            .Select(raw => (Levels: raw.Select(l => l.Length > 2 && l[0] == '{' && l[^1] == '}' ? null : l).ToArray(), Printer: Array.IndexOf(raw, "{printer}")))
            .Where(p => p.Printer >= 0)
            .ToArray();
        _alertPrefix = alertPrefix.TrimEnd('/');
    }

    /// <summary>Decides a CONNECT: success, or the reason code to refuse it with and why (for the log).</summary>
    public (MqttConnectReasonCode Code, string? Why) Authenticate(string clientId, string? user, string? password, EndPoint? remote)
    {
        var loopback = IsLoopback(remote);
        var isInternal = string.Equals(user, InternalUser, StringComparison.Ordinal);
        if (_internalClientIds.Contains(clientId) || isInternal)
        {
            return isInternal && IsThisHost(remote) && _internalClientIds.Contains(clientId) && SameSecret(password, _internalPassword)
                ? (MqttConnectReasonCode.Success, null)
                : (MqttConnectReasonCode.NotAuthorized, "the client id or user name is reserved for the worker's own clients");
        }

        if (string.IsNullOrEmpty(user))
        {
            return _options.AllowAnonymous || (loopback && !_options.HasCredentials)
                ? (MqttConnectReasonCode.Success, null)
                : (MqttConnectReasonCode.NotAuthorized, loopback
                    ? "anonymous clients are refused while credentials are configured (PrintFarm:Mqtt:EmbeddedBroker:AllowAnonymous)"
                    : "anonymous clients from the network are refused (PrintFarm:Mqtt:EmbeddedBroker:AllowAnonymous)");
        }

        var expected = string.Equals(user, _options.Username, StringComparison.Ordinal)
            ? _options.Password
            : _options.Printers.TryGetValue(user, out var printer) ? printer.Password : null;
        return expected is { Length: > 0 } && SameSecret(password, Encoding.UTF8.GetBytes(expected))
            ? (MqttConnectReasonCode.Success, null)
            : (MqttConnectReasonCode.BadUserNameOrPassword, "bad user name or password");
    }

    /// <summary>Whether the client logged in as <paramref name="user"/> may publish on <paramref name="topic"/>.</summary>
    public bool MayPublish(string? user, string topic) => Role(user) switch
    {
        Kind.Internal => true,
        Kind.Printer => Owns(user!, topic),
        _ => !IsAlertTopic(topic),
    };

    /// <summary>Whether the client logged in as <paramref name="user"/> may subscribe to <paramref name="filter"/>.</summary>
    public bool MaySubscribe(string? user, string filter) => Role(user) switch
    {
        Kind.Internal => true,
        Kind.Printer => Owns(user!, filter),
        _ => !ReadsManyPrinters(filter),
    };

    /// <summary>True when <paramref name="topic"/> (or filter) lies under printer <paramref name="printer"/>'s own level of an adapter pattern.</summary>
    public bool Owns(string printer, string topic)
    {
        var levels = topic.Split('/');
        foreach (var (pattern, p) in _patterns)
        {
            if (levels.Length <= p || !string.Equals(levels[p], printer, StringComparison.Ordinal))
            {
                continue;
            }

            var before = true;
            for (var j = 0; j < p && before; j++)
            {
                before = levels[j] is not ("+" or "#") && (pattern[j] is null || string.Equals(pattern[j], levels[j], StringComparison.Ordinal));
            }

            if (before)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="filter"/> can match the topics of more than one printer of some adapter pattern.</summary>
    public bool ReadsManyPrinters(string filter)
    {
        var levels = filter.Split('/');
        if (levels[0] is "#")
        {
            return true;
        }

        foreach (var (pattern, p) in _patterns)
        {
            for (var j = 0; j < levels.Length && j < pattern.Length; j++)
            {
                var f = levels[j];
                if (f == "#" || (f == "+" && j == p))
                {
                    return true; // a wildcard at or before the printer level
                }

                if (f != "+" && pattern[j] is { } literal && !string.Equals(literal, f, StringComparison.Ordinal))
                {
                    break; // this filter cannot match this pattern
                }

                if (j >= p)
                {
                    break; // the printer level is a literal: one printer at most
                }
            }
        }

        return false;
    }

    private bool IsAlertTopic(string topic) =>
        topic.Equals(_alertPrefix, StringComparison.Ordinal) || topic.StartsWith(_alertPrefix + "/", StringComparison.Ordinal);

    private Kind Role(string? user) =>
        string.IsNullOrEmpty(user) ? Kind.Anonymous
        : string.Equals(user, InternalUser, StringComparison.Ordinal) ? Kind.Internal
        : _options.Printers.ContainsKey(user) ? Kind.Printer
        : Kind.Farm;

    private static bool SameSecret(string? given, byte[] expected) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), expected);

    /// <summary>True for 127.0.0.0/8, ::1 and IPv4-mapped loopback: where anonymous clients may come from.</summary>
    public static bool IsLoopback(EndPoint? remote) =>
        remote is IPEndPoint ip && IPAddress.IsLoopback(ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address);

    /// <summary>
    /// True for a client on this host (where the worker's own clients must come from): from loopback (127.0.0.0/8, ::1, IPv4-mapped) or from one of this host's own
    /// addresses (a listener bound to one address, <c>Address</c>, is reached on that address). TCP source addresses
    /// cannot be forged past the handshake, so this is where the connection comes from.
    /// </summary>
    public static bool IsThisHost(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip)
        {
            return false;
        }

        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return IPAddress.IsLoopback(address) || OwnAddresses.Value.Contains(address);
    }

    private static readonly Lazy<HashSet<IPAddress>> OwnAddresses = new(() =>
    {
        try
        {
            return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .ToHashSet();
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            return [];
        }
    });

    private enum Kind
    {
        Anonymous,
        Internal,
        Printer,
        Farm,
    }
}
