using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Tests.Normalization;

public sealed class TagValueTests
{
    [Theory]
    [InlineData("dragon, big = \"red\" \\ v2", "dragon, big = \"red\" \\ v2")]
    [InlineData("龍🐉", "龍🐉")]
    [InlineData("dra\ngon\r\nline\t", "dra gon  line")]
    [InlineData("  padded  ", "padded")]
    [InlineData("ends\\\\", "ends")]
    [InlineData("nul\0inside", "nul inside")]
    public void Clean_KeepsEverythingButControlCharactersSurroundingSpaceAndTrailingBackslashes(string raw, string expected)
    {
        Assert.Equal(expected, TagValue.Clean(raw));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \r\n\t ")]
    [InlineData("\\\\")]
    public void Clean_NothingLeft_IsTheFallback(string? raw)
    {
        Assert.Equal("unknown", TagValue.Clean(raw));
    }

    [Fact]
    public void Clean_LongName_IsCutAtTheCap()
    {
        Assert.Equal(new string('t', TagValue.MaxNameLength), TagValue.Clean(new string('t', 10_000)));
        Assert.Equal(new string('f', TagValue.MaxFileLength), TagValue.CleanFile(new string('f', 10_000)));
    }

    [Fact]
    public void Clean_NeverCutsASurrogatePairInHalf()
    {
        var raw = new string('a', TagValue.MaxNameLength - 1) + "🐉🐉";

        var cleaned = TagValue.Clean(raw);

        Assert.Equal(new string('a', TagValue.MaxNameLength - 1), cleaned);
        Assert.True(System.Text.Unicode.Utf8.IsValid(System.Text.Encoding.UTF8.GetBytes(cleaned)));
    }

    [Fact]
    public void CleanFile_NothingLeft_IsNull()
    {
        Assert.Null(TagValue.CleanFile("\r\n"));
    }
}
