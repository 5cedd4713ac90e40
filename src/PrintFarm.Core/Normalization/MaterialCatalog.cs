namespace PrintFarm.Core.Normalization;

/// <summary>A material's physical and commercial constants.</summary>
/// <param name="DensityGramsPerCm3">Density, g/cm³.</param>
/// <param name="PricePerKg">Price per kilogram in the farm's currency, when configured.</param>
public readonly record struct MaterialInfo(double DensityGramsPerCm3, double? PricePerKg = null);

/// <summary>
/// Material names, densities and the millimetre → gram conversion. Names are compared case-insensitively and
/// reported upper case. An unknown material keeps its name but uses the default material's density.
/// </summary>
public sealed class MaterialCatalog
{
    /// <summary>Standard filament diameter, mm.</summary>
    public const double DefaultFilamentDiameterMm = 1.75;

    /// <summary>Typical densities of common FDM filaments, g/cm³ (manufacturers' data sheets).</summary>
    public static IReadOnlyDictionary<string, double> DefaultDensities { get; } = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase)
    {
        ["PLA"] = 1.24,
        ["PETG"] = 1.27,
        ["ABS"] = 1.04,
        ["ASA"] = 1.07,
        ["TPU"] = 1.21,
    };

    private readonly Dictionary<string, MaterialInfo> _materials;
    private readonly MaterialInfo _default;
    private readonly double _crossSectionMm2;

    /// <summary>Creates a catalog.</summary>
    /// <param name="materials">Materials by name; <see langword="null"/> means <see cref="DefaultDensities"/>.</param>
    /// <param name="defaultMaterial">Material assumed when an event names none; its density also serves unknown materials.</param>
    /// <param name="filamentDiameterMm">Filament diameter used to turn millimetres into volume.</param>
    public MaterialCatalog(IReadOnlyDictionary<string, MaterialInfo>? materials = null, string defaultMaterial = "PLA", double filamentDiameterMm = DefaultFilamentDiameterMm)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(filamentDiameterMm);
        _materials = new Dictionary<string, MaterialInfo>(StringComparer.OrdinalIgnoreCase);
        if (materials is null)
        {
            foreach (var (name, density) in DefaultDensities)
            {
                _materials[name] = new MaterialInfo(density);
            }
        }
        else
        {
            foreach (var (name, info) in materials)
            {
                _materials[name] = info;
            }
        }

        DefaultMaterial = Normalize(defaultMaterial) ?? "PLA";
        _default = _materials.TryGetValue(DefaultMaterial, out var d) ? d : new MaterialInfo(DefaultDensities["PLA"]);
        _crossSectionMm2 = Math.PI * (filamentDiameterMm / 2) * (filamentDiameterMm / 2);
    }

    /// <summary>Catalog with the built-in densities, PLA as default and 1.75 mm filament.</summary>
    public static MaterialCatalog Default { get; } = new();

    /// <summary>The material assumed when none is named, upper case.</summary>
    public string DefaultMaterial { get; }

    /// <summary>The material's canonical name: trimmed and upper case; the default material when blank.</summary>
    public string Resolve(string? material) => Normalize(material) ?? DefaultMaterial;

    /// <summary>The material's constants; the default material's for an unknown one.</summary>
    public MaterialInfo Info(string material) => _materials.TryGetValue(material, out var info) ? info : _default;

    /// <summary>Whether the catalog lists <paramref name="material"/>.</summary>
    public bool IsKnown(string material) => _materials.ContainsKey(material);

    /// <summary>Grams of <paramref name="millimetres"/> of filament of <paramref name="material"/>.</summary>
    public double GramsFromMillimetres(double millimetres, string material)
    {
        // mm × mm² = mm³; ÷ 1000 = cm³; × g/cm³ = g.
        return millimetres * _crossSectionMm2 / 1000.0 * Info(material).DensityGramsPerCm3;
    }

    private static string? Normalize(string? material)
    {
        if (string.IsNullOrWhiteSpace(material))
        {
            return null;
        }

        return material.Trim().ToUpperInvariant();
    }
}
