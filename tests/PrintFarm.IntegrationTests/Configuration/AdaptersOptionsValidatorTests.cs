using PrintFarm.Worker.Configuration;

namespace PrintFarm.IntegrationTests.Configuration;

public sealed class AdaptersOptionsValidatorTests
{
    private static List<string> Validate(Action<PrintFarmOptions> change)
    {
        var options = new PrintFarmOptions { Influx = { Bucket = "b" } };
        change(options);
        var result = new PrintFarmOptionsValidator().Validate(null, options);
        return result.Failed ? result.Failures.ToList() : [];
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        Assert.Empty(Validate(_ => { }));
    }

    [Fact]
    public void An_event_topic_without_its_event_level_is_named_with_what_is_allowed()
    {
        var error = Assert.Single(Validate(o => o.Adapters.OctoPrint.EventTopic = "octoPrint/{printer}/event"));

        Assert.StartsWith("PrintFarm:Adapters:OctoPrint:EventTopic is invalid: must be", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_split_topic_without_object_and_field_levels_is_refused()
    {
        var error = Assert.Single(Validate(o => o.Adapters.Moonraker.StateTopic = "{printer}/klipper/state"));

        Assert.StartsWith("PrintFarm:Adapters:Moonraker:StateTopic", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(601)]
    public void A_Bambu_cancel_grace_period_outside_0_to_10_minutes_is_refused(int seconds)
    {
        var error = Assert.Single(Validate(o => o.Adapters.Bambu.CancelGracePeriod = TimeSpan.FromSeconds(seconds)));

        Assert.StartsWith("PrintFarm:Adapters:Bambu:CancelGracePeriod", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_printer_names_and_materials_name_their_keys()
    {
        var errors = Validate(o =>
        {
            o.Adapters.OctoPrint.DefaultPrinter = "a/b";
            o.Adapters.Bambu.Printers["01S00C1"] = "x+y";
            o.PrinterMaterials["k1"] = " ";
        });

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Adapters:OctoPrint:DefaultPrinter is 'a/b'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:Adapters:Bambu:Printers:01S00C1 is 'x+y'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("PrintFarm:PrinterMaterials:k1", StringComparison.Ordinal));
    }

    [Fact]
    public void Disabling_every_adapter_is_refused()
    {
        var error = Assert.Single(Validate(o =>
        {
            o.Adapters.Native.Enabled = false;
            o.Adapters.OctoPrint.Enabled = false;
            o.Adapters.Moonraker.Enabled = false;
            o.Adapters.Bambu.Enabled = false;
        }));

        Assert.Contains("enable at least one", error, StringComparison.Ordinal);
    }
}
