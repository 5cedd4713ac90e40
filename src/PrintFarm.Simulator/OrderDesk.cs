using PrintFarm.Core.Events;
using PrintFarm.Simulator.Catalog;
using PrintFarm.Simulator.Formats;

namespace PrintFarm.Simulator;

/// <summary>One line of a simulated order: so many of one toy, always a whole number of its plates.</summary>
/// <param name="Toy">The toy.</param>
/// <param name="Quantity">Toys ordered: a multiple of <see cref="Toy.PerPlate"/>.</param>
public sealed record SimOrderLine(Toy Toy, int Quantity);

/// <summary>An order the simulated shop takes, published retained on <c>printfarm/orders/{Id}</c>.</summary>
/// <param name="Id">Order id (letters, digits and <c>-</c>, so it can lead a file name).</param>
/// <param name="Placed">When it was placed; its message is published then.</param>
/// <param name="Due">The due time the shop quoted.</param>
/// <param name="Lines">What is ordered; one line per toy.</param>
public sealed record SimOrder(string Id, DateTimeOffset Placed, DateTimeOffset Due, IReadOnlyList<SimOrderLine> Lines)
{
    /// <summary>Toys ordered, every line.</summary>
    public int ToysOrdered => Lines.Sum(l => l.Quantity);
}

/// <summary>
/// The simulated shop's order desk (<see cref="SimulationOptions.Orders"/>). It takes orders at about the pace the farm
/// prints, quotes each a due time from the backlog it knows of, and gives every printer that is free its next plate:
/// a plate of the first order, by placed time, with a line that its planned plates do not cover yet. The plate's file
/// is named <c>order-{id}_{toy}_x{n}.gcode</c>, so the worker links the job to the order by the file-name convention.
/// </summary>
/// <remarks>
/// <para>A plate that will complete covers its toys for good. A plate that will fail or be cancelled covers them only
/// until <see cref="Requeue"/> after it ended (the bed is cleared and the plate queued again), so a reprint never
/// starts before the failure it replaces has ended. Two things follow, on which <see cref="Truth.OrdersTruth"/>
/// relies: no order is ever given more completed toys than it ordered, and when a plate for an order fails the order
/// still needs at least that plate's toys, so the worker attributes the whole failed plate to it.</para>
/// <para>Every choice comes from the seed, and the desk is asked in the trace's own order, so equal options give
/// equal orders. When no order needs a plate, the printer waits a few minutes and asks again.</para>
/// </remarks>
public sealed class OrderDesk
{
    /// <summary>Orders are published on <c>{TopicPrefix}/{id}</c>: the worker's default.</summary>
    public const string TopicPrefix = "printfarm/orders";

    /// <summary>How long after a failed or cancelled plate ended its toys count as covered: clearing and re-queuing.</summary>
    public static readonly TimeSpan Requeue = TimeSpan.FromMinutes(30);

    // Plate-seconds of work the farm is offered per printer and second: a little under what it can print, so the
    // backlog stays short but printers are seldom without a plate.
    private const double Load = 0.85;

    // Heat-up, bed clearing and the gap to the next job, on top of a plate's printing time, seconds.
    private const double Overhead = 600;

    private readonly object _gate = new();
    private readonly SimulationOptions _options;
    private readonly Random _random;
    private readonly DateTimeOffset _stop;
    private readonly string _prefix;
    private readonly double _meanGapSeconds;
    private readonly List<Entry> _orders = [];
    private DateTimeOffset _nextPlaced;
    private int _firstOpen;
    private int _startPlates;

    internal OrderDesk(SimulationOptions options)
    {
        _options = options;
        _random = new Random(unchecked((options.Seed * 7243) + 918_273));
        _stop = options.Duration is { } d ? options.Start + d : DateTimeOffset.MaxValue;
        _prefix = new string(options.PrinterPrefix.Where(c => char.IsAsciiLetterOrDigit(c) || c == '-').ToArray());
        var toys = options.Catalog.Toys;
        var meanPlate = toys.Sum(t => t.Weight * ((t.PlateMinutes * 60) + Overhead)) / toys.Sum(t => t.Weight);

        // 1.4 lines of 2 plates on average (see Take).
        _meanGapSeconds = 1.4 * 2 * meanPlate / (options.Printers * Load);
        _nextPlaced = options.Start;
    }

    /// <summary>A snapshot of the orders taken so far, in placed order.</summary>
    public IReadOnlyList<SimOrder> Orders
    {
        get
        {
            lock (_gate)
            {
                return _orders.Select(e => e.Order).ToArray();
            }
        }
    }

    /// <summary>The order's MQTT message: its placed and due times and lines, retained at QoS 1.</summary>
    public static SimMessage Message(SimOrder order)
    {
        ArgumentNullException.ThrowIfNull(order);
        var payload = Json.Object(w =>
        {
            w.WriteString("placed", Json.Iso(order.Placed));
            w.WriteString("due", Json.Iso(order.Due));
            w.WriteStartArray("lines");
            foreach (var line in order.Lines)
            {
                w.WriteStartObject();
                w.WriteString("toy", line.Toy.Name);
                w.WriteNumber("quantity", line.Quantity);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        return new SimMessage(order.Placed, $"{TopicPrefix}/{order.Id}", payload, 1, true);
    }

    /// <summary>Every order's message at its placed time, in order, until the end of the trace.</summary>
    internal IEnumerable<SimMessage> Messages()
    {
        for (var i = 0; ; i++)
        {
            SimOrder? order;
            lock (_gate)
            {
                while (_orders.Count <= i && _nextPlaced < _stop)
                {
                    Take();
                }

                order = i < _orders.Count ? _orders[i].Order : null;
            }

            if (order is null || order.Placed >= _stop)
            {
                yield break;
            }

            yield return Message(order);
        }
    }

    /// <summary>The plate a printer free at <paramref name="time"/> should print next, or null when no order needs one.</summary>
    internal (string Order, Toy Toy)? Next(DateTimeOffset time)
    {
        lock (_gate)
        {
            while (_nextPlaced <= time && _nextPlaced < _stop)
            {
                Take();
            }

            while (_firstOpen < _orders.Count && _orders[_firstOpen].Covered)
            {
                _firstOpen++;
            }

            for (var i = _firstOpen; i < _orders.Count && _orders[i].Order.Placed <= time; i++)
            {
                foreach (var line in _orders[i].Lines)
                {
                    if (line.Need(time) >= line.Toy.PerPlate)
                    {
                        return (_orders[i].Order.Id, line.Toy);
                    }
                }
            }

            return null;
        }
    }

    /// <summary>Records a plate planned for an order (<see cref="PlannedJob.Order"/>): it covers its toys (see the remarks).</summary>
    internal void Planned(PlannedJob job)
    {
        lock (_gate)
        {
            var entry = _orders.Find(e => e.Order.Id == job.Order) ?? throw new InvalidOperationException($"no order {job.Order}");
            var line = entry.Lines.First(l => l.Toy == job.Toy);
            if (job.Outcome == JobOutcome.Completed)
            {
                line.Completing += job.Toy.PerPlate;
            }
            else
            {
                line.Failing.Add((job.End + Requeue, job.Toy.PerPlate));
            }
        }
    }

    // Takes the next order at _nextPlaced. The first orders all come at the start, one plate per printer or more, so the
    // farm has work at once; after that the gaps are exponential around the mean. Each order is one toy (60 %) or two,
    // of one to three plates each, due when the backlog before it and its own plates are printed by the whole farm,
    // then its longest plate, stretched by 0.9–1.6: some due times are generous, some will be missed.
    private void Take()
    {
        var placed = _nextPlaced;
        var toys = new List<Toy> { _options.Catalog.Pick(_random) };
        if (_random.NextDouble() < 0.4 && _options.Catalog.Toys.Count > 1)
        {
            Toy second;
            do
            {
                second = _options.Catalog.Pick(_random);
            }
            while (second == toys[0]);
            toys.Add(second);
        }

        var lines = toys.Select(t => new SimOrderLine(t, t.PerPlate * (1 + _random.Next(0, 3)))).ToList();
        var backlog = lines.Sum(Work);
        foreach (var open in _orders.Skip(_firstOpen))
        {
            backlog += open.Lines.Sum(l => Math.Max(0, l.Need(placed)) / (double)l.Toy.PerPlate * ((l.Toy.PlateMinutes * 60) + Overhead));
        }

        var longest = lines.Max(l => l.Toy.PlateMinutes * 60 * 1.25);
        var stretch = 0.9 + (_random.NextDouble() * 0.7);
        var due = placed.AddSeconds(Math.Round(((backlog / _options.Printers) + longest) * stretch / 60) * 60);
        var id = $"{_prefix}o{_orders.Count + 1:D5}";
        _orders.Add(new Entry(new SimOrder(id, placed, due, lines)));

        _startPlates += placed == _options.Start ? lines.Sum(l => l.Quantity / l.Toy.PerPlate) : 0;
        if (placed > _options.Start || _startPlates >= _options.Printers)
        {
            _nextPlaced = placed.AddSeconds(Math.Max(60, Math.Round(-Math.Log(1 - _random.NextDouble()) * _meanGapSeconds)));
        }
    }

    private static double Work(SimOrderLine line) => line.Quantity / (double)line.Toy.PerPlate * ((line.Toy.PlateMinutes * 60) + Overhead);

    private sealed class Entry(SimOrder order)
    {
        public SimOrder Order { get; } = order;

        public List<LineCover> Lines { get; } = order.Lines.Select(l => new LineCover(l.Toy, l.Quantity)).ToList();

        public bool Covered => Lines.TrueForAll(l => l.Completing >= l.Quantity);
    }

    private sealed class LineCover(Toy toy, int quantity)
    {
        public Toy Toy { get; } = toy;

        public int Quantity { get; } = quantity;

        public int Completing { get; set; }

        public List<(DateTimeOffset Until, int Toys)> Failing { get; } = [];

        // Toys no planned plate covers at `time`.
        public int Need(DateTimeOffset time) => Quantity - Completing - Failing.Where(f => f.Until > time).Sum(f => f.Toys);
    }
}
