namespace PrintFarm.Simulator.Catalog;

/// <summary>One toy the simulated farm prints.</summary>
/// <param name="Name">Toy name; the G-code file is <c>{Name}_x{PerPlate}.gcode</c>, which the worker's default toy rule reads back.</param>
/// <param name="PerPlate">Toys on one plate.</param>
/// <param name="PlateMinutes">Mean printing time of a plate (heat-up and pauses excluded), minutes.</param>
/// <param name="PlateFilamentMm">Filament of a whole plate, millimetres of 1.75 mm PLA.</param>
/// <param name="Weight">Relative frequency in the job stream.</param>
public sealed record Toy(string Name, int PerPlate, double PlateMinutes, double PlateFilamentMm, double Weight)
{
    /// <summary>The G-code file name.</summary>
    public string File => $"{Name}_x{PerPlate}.gcode";
}

/// <summary>The toys of the simulated farm. All are PLA (the worker's default material), so every format resolves the same material.</summary>
public sealed class ToyCatalog
{
    /// <summary>Creates a catalogue.</summary>
    public ToyCatalog(IReadOnlyList<Toy> toys)
    {
        ArgumentNullException.ThrowIfNull(toys);
        if (toys.Count == 0)
        {
            throw new ArgumentException("a catalogue needs at least one toy", nameof(toys));
        }

        Toys = toys;
        _total = toys.Sum(t => t.Weight);
    }

    private readonly double _total;

    /// <summary>The toys.</summary>
    public IReadOnlyList<Toy> Toys { get; }

    /// <summary>
    /// A toy shop around the industry's typical 2–4 h per toy: plates of 1 to 4 printing 2 to 5.5 h, so the farm's
    /// print time per toy sits near the 2 h line and moves with failures.
    /// </summary>
    public static ToyCatalog Default { get; } = new(
    [
        new Toy("dragon", 2, 240, 26000, 3),
        new Toy("castle", 1, 200, 18000, 1),
        new Toy("robot", 1, 110, 9000, 2),
        new Toy("whistle", 4, 300, 8000, 1),
        new Toy("calicat", 2, 330, 15000, 2),
        new Toy("boat", 1, 260, 21000, 1),
    ]);

    /// <summary>Quick prints (40 min to 4 h plates): many jobs in a few simulated hours, for tests and benchmarks.</summary>
    public static ToyCatalog Quick { get; } = new(
    [
        new Toy("dragon", 4, 150, 24000, 3),
        new Toy("castle", 1, 180, 16000, 1),
        new Toy("robot", 2, 100, 11000, 2),
        new Toy("whistle", 6, 45, 4800, 2),
        new Toy("calicat", 3, 70, 6500, 2),
        new Toy("boat", 2, 260, 21000, 1),
    ]);

    /// <summary>Picks a toy by weight.</summary>
    public Toy Pick(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var x = random.NextDouble() * _total;
        foreach (var toy in Toys)
        {
            x -= toy.Weight;
            if (x < 0)
            {
                return toy;
            }
        }

        return Toys[^1];
    }
}
