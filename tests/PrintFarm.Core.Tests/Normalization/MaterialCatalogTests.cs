using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Tests.Normalization;

public sealed class MaterialCatalogTests
{
    private const double Precision = 1e-9;

    // grams = length (mm) × cross-section π·(d/2)² (mm²) ÷ 1000 (mm³ → cm³) × density (g/cm³).
    private static double Grams(double millimetres, double diameterMm, double density) =>
        millimetres * Math.PI * (diameterMm / 2) * (diameterMm / 2) / 1000.0 * density;

    [Fact]
    public void GramsFromMillimetres_OneMetreOfPla_IsVolumeTimesDensity()
    {
        // 1000 mm of 1.75 mm PLA: 1000 × π × 0.875² / 1000 × 1.24 g ≈ 2.982 g.
        var expected = 1000 * Math.PI * 0.875 * 0.875 / 1000 * 1.24;

        var grams = MaterialCatalog.Default.GramsFromMillimetres(1000, "PLA");

        Assert.Equal(expected, grams, Precision);
        Assert.Equal(2.982, grams, 0.001);
    }

    [Theory]
    [InlineData("PLA", 1.24)]
    [InlineData("PETG", 1.27)]
    [InlineData("ABS", 1.04)]
    [InlineData("ASA", 1.07)]
    [InlineData("TPU", 1.21)]
    public void GramsFromMillimetres_BuiltInMaterial_UsesItsDensity(string material, double density)
    {
        Assert.Equal(density, MaterialCatalog.DefaultDensities[material]);
        Assert.Equal(Grams(3000, 1.75, density), MaterialCatalog.Default.GramsFromMillimetres(3000, material), Precision);
    }

    [Fact]
    public void GramsFromMillimetres_Zero_IsZero()
    {
        Assert.Equal(0, MaterialCatalog.Default.GramsFromMillimetres(0, "PLA"));
    }

    [Fact]
    public void GramsFromMillimetres_UnknownMaterial_UsesTheDefaultMaterialsDensity()
    {
        var catalog = MaterialCatalog.Default;

        Assert.False(catalog.IsKnown("NYLON"));
        Assert.Equal(catalog.Info("PLA"), catalog.Info("NYLON"));
        Assert.Equal(Grams(1000, 1.75, MaterialCatalog.DefaultDensities["PLA"]), catalog.GramsFromMillimetres(1000, "NYLON"), Precision);
    }

    [Fact]
    public void GramsFromMillimetres_UnknownMaterialWithAnotherDefault_UsesThatDefaultsDensity()
    {
        var catalog = new MaterialCatalog(defaultMaterial: "petg");

        Assert.Equal("PETG", catalog.DefaultMaterial);
        Assert.Equal(Grams(1000, 1.75, MaterialCatalog.DefaultDensities["PETG"]), catalog.GramsFromMillimetres(1000, "NYLON"), Precision);
    }

    [Fact]
    public void GramsFromMillimetres_CustomDiameter_ChangesTheCrossSection()
    {
        var catalog = new MaterialCatalog(filamentDiameterMm: 2.85);

        Assert.Equal(Grams(1000, 2.85, 1.24), catalog.GramsFromMillimetres(1000, "PLA"), Precision);
        // Same length, (2.85 / 1.75)² times the volume.
        Assert.Equal(
            MaterialCatalog.Default.GramsFromMillimetres(1000, "PLA") * (2.85 / 1.75) * (2.85 / 1.75),
            catalog.GramsFromMillimetres(1000, "PLA"),
            Precision);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.75)]
    public void Constructor_NonPositiveDiameter_Throws(double diameter)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MaterialCatalog(filamentDiameterMm: diameter));
    }

    [Theory]
    [InlineData("pla")]
    [InlineData("Pla")]
    [InlineData("PLA")]
    public void Info_IsCaseInsensitive(string material)
    {
        var catalog = MaterialCatalog.Default;

        Assert.True(catalog.IsKnown(material));
        Assert.Equal(MaterialCatalog.DefaultDensities["PLA"], catalog.Info(material).DensityGramsPerCm3);
        Assert.Equal(catalog.GramsFromMillimetres(500, "PLA"), catalog.GramsFromMillimetres(500, material));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Resolve_Blank_IsTheDefaultMaterial(string? material)
    {
        Assert.Equal("PLA", MaterialCatalog.Default.Resolve(material));
        Assert.Equal("ABS", new MaterialCatalog(defaultMaterial: "abs").Resolve(material));
    }

    [Theory]
    [InlineData("petg", "PETG")]
    [InlineData("  PeTg ", "PETG")]
    [InlineData("nylon-cf", "NYLON-CF")]
    public void Resolve_Named_IsTrimmedAndUpperCase(string material, string resolved)
    {
        Assert.Equal(resolved, MaterialCatalog.Default.Resolve(material));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    public void Constructor_BlankDefaultMaterial_FallsBackToPla(string? defaultMaterial)
    {
        var catalog = new MaterialCatalog(defaultMaterial: defaultMaterial!);

        Assert.Equal("PLA", catalog.DefaultMaterial);
    }

    [Fact]
    public void Constructor_CustomMaterials_ReplaceTheBuiltInOnes()
    {
        var catalog = new MaterialCatalog(new Dictionary<string, MaterialInfo> { ["pla"] = new(1.3, 24.5), ["Pc"] = new(1.2) });

        Assert.True(catalog.IsKnown("PC"));
        Assert.False(catalog.IsKnown("PETG"));
        Assert.Equal(new MaterialInfo(1.3, 24.5), catalog.Info("PLA"));
        Assert.Equal(Grams(1000, 1.75, 1.3), catalog.GramsFromMillimetres(1000, "PLA"), Precision);
        // PETG is no longer listed, so it takes the default material's (custom) density.
        Assert.Equal(Grams(1000, 1.75, 1.3), catalog.GramsFromMillimetres(1000, "PETG"), Precision);
    }

    [Fact]
    public void Constructor_DefaultMaterialMissingFromCustomMaterials_UsesBuiltInPlaDensityForUnknowns()
    {
        var catalog = new MaterialCatalog(new Dictionary<string, MaterialInfo> { ["PC"] = new(1.2) }, defaultMaterial: "PLA");

        Assert.Equal(MaterialCatalog.DefaultDensities["PLA"], catalog.Info("NYLON").DensityGramsPerCm3);
    }
}
