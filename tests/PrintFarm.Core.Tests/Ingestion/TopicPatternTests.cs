using PrintFarm.Core.Ingestion;

namespace PrintFarm.Core.Tests.Ingestion;

public sealed class TopicPatternTests
{
    [Theory]
    [InlineData("printfarm/{printer}/event", "printfarm/+/event")]
    [InlineData("{printer}/klipper/state/{object}/{field}", "+/klipper/state/+/+")]
    [InlineData("device/{printer}/report", "device/+/report")]
    public void SubscriptionFilter_Placeholders_BecomeSingleLevelWildcards(string pattern, string filter)
    {
        var p = new TopicPattern(pattern);

        Assert.Equal(filter, p.SubscriptionFilter);
        Assert.Equal(pattern, p.Pattern);
        Assert.Equal(pattern, p.ToString());
    }

    [Fact]
    public void SubscriptionFilter_FixedPrinterPattern_IsTheLiteralTopic()
    {
        var p = new TopicPattern("octoPrint/event/{event}", fixedPrinter: "prusa-1");

        Assert.Equal("octoPrint/event/+", p.SubscriptionFilter);
        Assert.Equal("prusa-1", p.FixedPrinter);
    }

    [Fact]
    public void TryMatch_MatchingTopic_CapturesThePrinter()
    {
        var p = new TopicPattern("printfarm/{printer}/event");

        Assert.True(p.TryMatch("printfarm/p-17/event", out var match));
        Assert.Equal("p-17", match.Printer);
        Assert.Null(match["printer"]);
        Assert.Null(match["object"]);
    }

    [Fact]
    public void TryMatch_SeveralPlaceholders_CapturesEveryLevel()
    {
        var p = new TopicPattern("{printer}/klipper/state/{object}/{field}");

        Assert.True(p.TryMatch("voron/klipper/state/extruder/temperature", out var match));
        Assert.Equal("voron", match.Printer);
        Assert.Equal("extruder", match["object"]);
        Assert.Equal("temperature", match["field"]);
        Assert.Null(match["missing"]);
    }

    [Fact]
    public void TryMatch_PatternWithFixedPrinter_ReportsTheFixedPrinter()
    {
        var p = new TopicPattern("octoPrint/event/{event}", fixedPrinter: "prusa-1");

        Assert.True(p.TryMatch("octoPrint/event/PrintDone", out var match));
        Assert.Equal("prusa-1", match.Printer);
        Assert.Equal("PrintDone", match["event"]);
    }

    [Fact]
    public void Constructor_PatternWithPrinterPlaceholder_IgnoresTheFixedPrinter()
    {
        var p = new TopicPattern("printfarm/{printer}/event", fixedPrinter: "ignored");

        Assert.Null(p.FixedPrinter);
        Assert.True(p.TryMatch("printfarm/p1/event", out var match));
        Assert.Equal("p1", match.Printer);
    }

    [Theory]
    [InlineData("printfarm/p1")]
    [InlineData("printfarm/p1/event/extra")]
    [InlineData("printfarm")]
    [InlineData("")]
    [InlineData("printfarm/p1/event/")]
    public void TryMatch_DifferentLevelCount_DoesNotMatch(string topic)
    {
        var p = new TopicPattern("printfarm/{printer}/event");

        Assert.False(p.TryMatch(topic, out _));
    }

    [Theory]
    [InlineData("printfarm/p1/events")]
    [InlineData("PrintFarm/p1/event")]
    [InlineData("other/p1/event")]
    [InlineData("printfarm/p1/Event")]
    public void TryMatch_LiteralLevelDiffers_DoesNotMatch(string topic)
    {
        var p = new TopicPattern("printfarm/{printer}/event");

        Assert.False(p.TryMatch(topic, out _));
    }

    [Theory]
    [InlineData("printfarm//event")]
    [InlineData("/klipper/state/x/y")]
    public void TryMatch_EmptyPlaceholderLevel_DoesNotMatch(string topic)
    {
        var p = new TopicPattern(topic.StartsWith('/') ? "{printer}/klipper/state/{object}/{field}" : "printfarm/{printer}/event");

        Assert.False(p.TryMatch(topic, out _));
    }

    [Theory]
    [InlineData("printfarm/+/event")]
    [InlineData("printfarm/#")]
    [InlineData("printfarm/{printer}/#")]
    [InlineData("+/{printer}")]
    public void Constructor_MqttWildcards_AreRejected(string pattern)
    {
        Assert.Throws<ArgumentException>(() => new TopicPattern(pattern, fixedPrinter: "p1"));
    }

    [Theory]
    [InlineData("printfarm/x{printer}/event")]
    [InlineData("printfarm/{printer}x/event")]
    [InlineData("printfarm/{printer/event")]
    [InlineData("printfarm/printer}/event")]
    [InlineData("printfarm/{}/event")]
    public void Constructor_PlaceholderNotFillingAWholeLevel_IsRejected(string pattern)
    {
        Assert.Throws<ArgumentException>(() => new TopicPattern(pattern, fixedPrinter: "p1"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Constructor_NoPrinterPlaceholderAndNoFixedPrinter_IsRejected(string? fixedPrinter)
    {
        Assert.Throws<ArgumentException>(() => new TopicPattern("printfarm/{device}/event", fixedPrinter));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Constructor_EmptyPattern_IsRejected(string pattern)
    {
        Assert.Throws<ArgumentException>(() => new TopicPattern(pattern, fixedPrinter: "p1"));
    }
}
