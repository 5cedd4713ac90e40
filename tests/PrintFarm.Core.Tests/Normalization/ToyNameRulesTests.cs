using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Tests.Normalization;

public sealed class ToyNameRulesTests
{
    private readonly ToyNameRules _rules = ToyNameRules.Default;

    [Theory]
    [InlineData("dragon_x4.gcode", "dragon", 4)]
    [InlineData("dragon-x4.gcode", "dragon", 4)]
    [InlineData("dragon_4x.gcode", "dragon", 4)]
    [InlineData("dragon_X4.gcode", "dragon", 4)]
    [InlineData("dragon_4X.gcode", "dragon", 4)]
    [InlineData("dragon-X12.gcode", "dragon", 12)]
    [InlineData("dragon_x9999.gcode", "dragon", 9999)]
    [InlineData("baby_dragon_x2.gcode", "baby_dragon", 2)]
    [InlineData("dragon_x2_x3.gcode", "dragon_x2", 3)]
    public void Parse_QuantityMarker_IsReadAndRemovedFromTheName(string file, string toy, int quantity)
    {
        Assert.Equal(new ToyInfo(toy, quantity), _rules.Parse(file));
    }

    [Theory]
    [InlineData("dragon.gcode", "dragon")]
    [InlineData("dragon-4x.gcode", "dragon-4x")]
    [InlineData("dragon_x.gcode", "dragon_x")]
    [InlineData("dragon_x12345.gcode", "dragon_x12345")]
    [InlineData("dragonx4.gcode", "dragonx4")]
    [InlineData("dragon_x4_final.gcode", "dragon_x4_final")]
    [InlineData("_x4.gcode", "_x4")]
    public void Parse_NoMarker_TheWholeStemIsTheToyAndQuantityIsOne(string file, string toy)
    {
        Assert.Equal(new ToyInfo(toy, 1), _rules.Parse(file));
    }

    [Fact]
    public void Parse_ZeroQuantityMarker_KeepsQuantityOne()
    {
        var info = _rules.Parse("dragon_x0.gcode");

        Assert.Equal(1, info.Quantity);
    }

    [Theory]
    [InlineData("/sd/plates/dragon_x4.gcode")]
    [InlineData("plates/dragon_x4.gcode")]
    [InlineData(@"C:\plates\dragon_x4.gcode")]
    [InlineData(@"plates\2024/june\dragon_x4.gcode")]
    [InlineData("  /sd/dragon_x4.gcode  ")]
    public void Parse_Path_UsesTheLastSegment(string file)
    {
        Assert.Equal(new ToyInfo("dragon", 4), _rules.Parse(file));
    }

    [Theory]
    [InlineData(".gcode")]
    [InlineData(".gco")]
    [InlineData(".gc")]
    [InlineData(".g")]
    [InlineData(".bgcode")]
    [InlineData(".3mf")]
    [InlineData(".gcode.3mf")]
    [InlineData(".GCODE")]
    [InlineData(".Gcode.3MF")]
    [InlineData("")]
    public void Parse_PrintFileExtension_IsRemoved(string extension)
    {
        Assert.Equal(new ToyInfo("dragon", 4), _rules.Parse("dragon_x4" + extension));
        Assert.Equal("castle", ToyNameRules.Stem("castle" + extension));
    }

    [Theory]
    [InlineData("dragon.stl", "dragon.stl")]
    [InlineData("dragon.gcode.bak", "dragon.gcode.bak")]
    [InlineData("dragon.v2.gcode", "dragon.v2")]
    [InlineData(".gcode", ".gcode")]
    public void Stem_OtherExtensionsOrBareExtension_AreKept(string file, string stem)
    {
        Assert.Equal(stem, ToyNameRules.Stem(file));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("/sd/plates/")]
    [InlineData(@"C:\plates\")]
    public void Parse_NoFileName_IsUnknownWithQuantityOne(string? file)
    {
        Assert.Equal(new ToyInfo("unknown", 1), _rules.Parse(file));
    }

    [Fact]
    public void Parse_CustomPattern_IsUsed()
    {
        var rules = new ToyNameRules([@"^(?<qty>\d+)x_(?<toy>.+)$"]);

        Assert.Equal(new ToyInfo("dragon", 6), rules.Parse("/sd/6x_dragon.gcode"));
    }

    [Fact]
    public void Parse_CustomPatterns_FirstMatchWins()
    {
        // Both patterns match "dragon_x4"; the first one listed decides.
        const string noQuantity = @"^(?<toy>.+)_x\d+$";

        Assert.Equal(new ToyInfo("dragon", 1), new ToyNameRules([noQuantity, ToyNameRules.DefaultPattern]).Parse("dragon_x4.gcode"));
        Assert.Equal(new ToyInfo("dragon", 4), new ToyNameRules([ToyNameRules.DefaultPattern, noQuantity]).Parse("dragon_x4.gcode"));
    }

    [Fact]
    public void Parse_CustomPatternWithoutQtyGroup_GivesQuantityOne()
    {
        var rules = new ToyNameRules([@"^toy-(?<toy>.+)$"]);

        Assert.Equal(new ToyInfo("dragon_x4", 1), rules.Parse("toy-dragon_x4.gcode"));
    }

    [Fact]
    public void Parse_CustomPatternsThatDoNotMatch_FallBackToTheBuiltInRules()
    {
        var rules = new ToyNameRules([@"^toy-(?<toy>.+)$"]);

        Assert.Equal(new ToyInfo("dragon", 4), rules.Parse("dragon_x4.gcode"));
        Assert.Equal(new ToyInfo("calicat", 1), rules.Parse("calicat_0.3mm_PLA_MK3S_33m.gcode"));
    }

    // Issue 19: the slicers' default output names put layer height, material, printer and time beside the model's
    // name, so one toy became one per variant; dragon_x4_PETG was toy "dragon_x4_PETG" with 1 toy.
    [Theory]
    [InlineData("dragon_x4_PETG.gcode", "dragon", 4)]
    [InlineData("dragon_PETG_x4.gcode", "dragon", 4)]
    [InlineData("calicat_0.3mm_PLA_MK3S_33m.gcode", "calicat", 1)] // PrusaSlicer, Moonraker's documented example
    [InlineData("dragon_0.2mm_PLA_MK4_1h23m.gcode", "dragon", 1)] // PrusaSlicer
    [InlineData("dragon_0.15mm_PETG_MK4_2d3h4m.bgcode", "dragon", 1)]
    [InlineData("dragon_0.4n_0.2mm_PLA;PETG_COREONE_45m.gcode", "dragon", 1)] // PrusaSlicer 2.6+ with the nozzle
    [InlineData("dragon_x4_0.2mm_PLA_MK3S_5h2m.gcode", "dragon", 4)]
    [InlineData("baby_dragon_0.20mm_PETG_ENDER3_1h2m3s.gcode", "baby_dragon", 1)] // SuperSlicer
    [InlineData("dragon_PLA_2h5m.gcode", "dragon", 1)] // OrcaSlicer
    [InlineData("dragon_x6_PETG-CF_11h.gcode", "dragon", 6)] // OrcaSlicer, a material with a variant
    [InlineData("CE3_dragon.gcode", "dragon", 1)] // Cura, Creality Ender-3
    [InlineData("UMS5_dragon_x2.gcode", "dragon", 2)] // Cura, Ultimaker S5
    [InlineData("4x_dragon.gcode", "dragon", 4)]
    [InlineData("dragon.gcode.3mf", "dragon", 1)] // Bambu Studio
    [InlineData("R2D2_figure.gcode", "R2D2_figure", 1)] // not a Cura prefix
    [InlineData("PLA_holder.gcode", "PLA_holder", 1)] // a material word at the start is part of the name
    [InlineData("dragon_panda.gcode", "dragon_panda", 1)]
    public void Parse_SlicerDefaultNames_GiveTheModelNameAndQuantity(string file, string toy, int quantity)
    {
        Assert.Equal(new ToyInfo(toy, quantity), _rules.Parse(file));
    }

    [Fact]
    public void Parse_PrusaSlicerVariantsOfOneModel_AreOneToy()
    {
        var toys = new[] { "dragon_0.2mm_PLA_MK4_1h23m.gcode", "dragon_0.15mm_PETG_MK4_2h1m.gcode", "dragon_0.4n_0.1mm_ASA_XL_4h.gcode" }
            .Select(f => _rules.Parse(f).Toy).Distinct();

        Assert.Equal(["dragon"], toys);
    }

    [Fact]
    public void Parse_CustomPatternCapturingAnEmptyToy_UsesTheStem()
    {
        var rules = new ToyNameRules([@"^(?<toy>)(?<qty>\d+)$"]);

        Assert.Equal(new ToyInfo("12", 12), rules.Parse("12.gcode"));
    }

    [Fact]
    public void Constructor_BlankPatternsOnly_UsesTheDefaultRule()
    {
        var rules = new ToyNameRules(["", "  "]);

        Assert.Equal(new ToyInfo("dragon", 4), rules.Parse("dragon_x4.gcode"));
    }

    [Fact]
    public void Constructor_DefaultPatternGivenExplicitly_BehavesLikeTheDefault()
    {
        var rules = new ToyNameRules([ToyNameRules.DefaultPattern]);

        foreach (var file in new[] { "dragon_x4.gcode", "dragon-x4.g", "dragon_4x.3mf", "castle.gcode", "/a/b\\c_x2.bgcode" })
        {
            Assert.Equal(ToyNameRules.Default.Parse(file), rules.Parse(file));
        }
    }

    [Fact]
    public void Validate_ValidPatternWithToyGroup_ReturnsNull()
    {
        Assert.Null(ToyNameRules.Validate(ToyNameRules.DefaultPattern));
        Assert.Null(ToyNameRules.Validate(@"^(?<toy>.+)$"));
    }

    [Theory]
    [InlineData("(")]
    [InlineData(@"^(?<toy>.+$")]
    [InlineData("[a-")]
    [InlineData(@"(?<toy>x)\")]
    public void Validate_InvalidRegex_ReturnsAReason(string pattern)
    {
        Assert.False(string.IsNullOrWhiteSpace(ToyNameRules.Validate(pattern)));
        Assert.ThrowsAny<ArgumentException>(() => new ToyNameRules([pattern]));
    }

    [Theory]
    [InlineData(@"^(?<name>.+)_x(?<qty>\d+)$")]
    [InlineData(@"^(.+)$")]
    [InlineData(@"^(?<Toy>.+)$")]
    public void Validate_PatternWithoutToyGroup_ReturnsAReason(string pattern)
    {
        var reason = ToyNameRules.Validate(pattern);

        Assert.NotNull(reason);
        Assert.Contains("toy", reason, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ToyNameRules([pattern]));
    }
}
