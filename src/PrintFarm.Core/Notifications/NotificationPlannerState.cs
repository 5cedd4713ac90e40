namespace PrintFarm.Core.Notifications;

/// <summary>A checkpoint of the <see cref="NotificationPlanner"/>: plain data, serialized as JSON, every field by name.</summary>
public sealed class NotificationPlannerState
{
    /// <summary>Start of the current rate-limit interval, UTC ticks of receive time.</summary>
    public long Interval { get; set; } = long.MinValue;

    /// <summary>What the current interval has sent and held, per kind that has any.</summary>
    public List<KindState> Kinds { get; set; } = [];

    /// <summary>Printers counted as offline.</summary>
    public List<string> Offline { get; set; } = [];

    /// <summary>One kind's counts in the current interval.</summary>
    public sealed class KindState
    {
        /// <summary>Kind name (<see cref="NotificationKinds.Names"/>).</summary>
        public string Kind { get; set; } = string.Empty;

        /// <summary>Sent one by one.</summary>
        public int Sent { get; set; }

        /// <summary>Held for the digest.</summary>
        public int Held { get; set; }

        /// <summary>The digest's first printers.</summary>
        public List<string> HeldPrinters { get; set; } = [];
    }
}
