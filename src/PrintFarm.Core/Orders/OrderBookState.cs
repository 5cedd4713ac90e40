namespace PrintFarm.Core.Orders;

/// <summary>
/// The <see cref="OrderBook"/> in a checkpoint (its own <c>orders</c> property), every member by name. Times are UTC
/// ticks. A member missing (an older build) reads as empty.
/// </summary>
public sealed class OrderBookState
{
    /// <summary>Every known order.</summary>
    public List<OrderState> Orders { get; init; } = [];

    /// <summary>Open windows' totals.</summary>
    public List<WindowState> Windows { get; init; } = [];

    /// <summary>Recent printing seconds per toy, by toy.</summary>
    public Dictionary<string, double> ToySeconds { get; init; } = [];

    /// <summary>Completed printing seconds per hour bucket of event time.</summary>
    public List<HourState> Recent { get; init; } = [];

    /// <summary>End of the first completed job seen.</summary>
    public long? FirstJobEnd { get; init; }

    /// <summary>The next at-risk check's event time.</summary>
    public long? NextCheck { get; init; }

    /// <summary>Completed toys no open order needed.</summary>
    public long SurplusToys { get; init; }

    /// <summary>Orders that completed in a closed window.</summary>
    public long LateCompletions { get; init; }

    /// <summary>One order.</summary>
    public sealed class OrderState
    {
        /// <summary>Order id.</summary>
        public string Id { get; init; } = string.Empty;

        /// <summary>Placed, ticks.</summary>
        public long Placed { get; init; }

        /// <summary>Due, ticks.</summary>
        public long Due { get; init; }

        /// <summary>Its lines.</summary>
        public List<LineState> Lines { get; init; } = [];

        /// <summary>Printing time attributed, seconds.</summary>
        public double PrintSeconds { get; init; }

        /// <summary>Completed, ticks.</summary>
        public long? Completed { get; init; }

        /// <summary>End of the last job that delivered to it, ticks.</summary>
        public long? LastDelivery { get; init; }

        /// <summary>Withdrawn.</summary>
        public bool Withdrawn { get; init; }

        /// <summary>At-risk alert firing.</summary>
        public bool AtRisk { get; init; }
    }

    /// <summary>One order line.</summary>
    public sealed class LineState
    {
        /// <summary>Toy.</summary>
        public string Toy { get; init; } = string.Empty;

        /// <summary>Material, or null for any.</summary>
        public string? Material { get; init; }

        /// <summary>Toys ordered.</summary>
        public int Quantity { get; init; }

        /// <summary>Toys delivered.</summary>
        public int Completed { get; init; }
    }

    /// <summary>One open window.</summary>
    public sealed class WindowState
    {
        /// <summary>Window size name.</summary>
        public string Window { get; init; } = string.Empty;

        /// <summary>Window start, ticks.</summary>
        public long Start { get; init; }

        /// <summary>Totals.</summary>
        public OrderTotals Totals { get; init; }
    }

    /// <summary>One hour bucket.</summary>
    public sealed class HourState
    {
        /// <summary>Hour start, ticks.</summary>
        public long Hour { get; init; }

        /// <summary>Completed printing seconds of jobs that ended in it.</summary>
        public double Seconds { get; init; }
    }
}
