namespace PrintFarm.Core.Notifications;

/// <summary>
/// Settings under <c>PrintFarm:Notifications</c>: which everyday events (a job finished, failed or was cancelled, a
/// printer went offline or came back) are sent, and how many of one kind may go out per interval before the rest are
/// sent as one digest. They go through the alert channels (<c>PrintFarm:Alerts</c>: MQTT connection, webhook).
/// </summary>
public sealed class NotificationOptions
{
    /// <summary>The word that turns every kind on.</summary>
    public const string AllKinds = "all";

    /// <summary>
    /// Kinds to send, comma-separated: <c>finished</c>, <c>failed</c>, <c>cancelled</c>, <c>offline</c>, <c>online</c>,
    /// or <c>all</c>. Default empty: no notifications (opt in).
    /// </summary>
    public string Events { get; set; } = string.Empty;

    /// <summary>
    /// At most this many notifications of one kind are sent one by one per <see cref="Interval"/>; the rest of that
    /// interval are held and sent as one digest once it is over. Default 10.
    /// </summary>
    public int MaxPerInterval { get; set; } = 10;

    /// <summary>Length of a rate-limit interval, on the messages' receive times. Default 1 min.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>First levels of the notification topics (<c>{TopicPrefix}/{printer}/{kind}</c>). Default <c>printfarm/notifications</c>.</summary>
    public string TopicPrefix { get; set; } = "printfarm/notifications";

    /// <summary>The kinds <see cref="Events"/> names (unknown names left out: see <see cref="Validate"/>).</summary>
    public IReadOnlySet<NotificationKind> EnabledKinds()
    {
        var kinds = new HashSet<NotificationKind>();
        foreach (var name in Names())
        {
            if (string.Equals(name, AllKinds, StringComparison.OrdinalIgnoreCase))
            {
                kinds.UnionWith(NotificationKinds.All);
            }
            else if (NotificationKinds.TryParse(name, out var kind))
            {
                kinds.Add(kind);
            }
        }

        return kinds;
    }

    /// <summary>True when at least one kind is on.</summary>
    public bool Enabled => EnabledKinds().Count > 0;

    /// <summary>
    /// Every problem with these settings, each naming its key (relative to this section) and what is allowed; empty
    /// when valid.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var allowed = string.Join(", ", NotificationKinds.Names) + " or " + AllKinds + ", comma-separated (empty for none)";
        var unknown = Names().Where(n => !string.Equals(n, AllKinds, StringComparison.OrdinalIgnoreCase) && !NotificationKinds.TryParse(n, out _)).ToList();
        if (unknown.Count > 0)
        {
            errors.Add($"Events is '{Events}': {string.Join(", ", unknown.Select(u => $"'{u}'"))} {(unknown.Count == 1 ? "is not a kind" : "are not kinds")}; allowed: {allowed}");
        }

        if (MaxPerInterval is < 1 or > 10_000)
        {
            errors.Add($"MaxPerInterval is '{MaxPerInterval}': must be between 1 and 10000");
        }

        if (Interval < TimeSpan.FromSeconds(1) || Interval > TimeSpan.FromHours(1))
        {
            errors.Add($"Interval is '{Interval}': must be between 00:00:01 and 01:00:00");
        }

        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.AsSpan().IndexOfAny("+#\r\n") >= 0 || TopicPrefix.StartsWith('/') || TopicPrefix.EndsWith('/'))
        {
            errors.Add($"TopicPrefix is '{TopicPrefix}': must be an MQTT topic without '+', '#', a leading or trailing '/' or line breaks");
        }

        return errors;
    }

    private string[] Names() =>
        (Events ?? string.Empty).Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
