using PrintFarm.Core.Normalization;

namespace PrintFarm.Core.Ingestion.Energy;

/// <summary>The payload format of a smart plug.</summary>
public enum PlugType
{
    /// <summary>Tasmota: <c>tele/&lt;topic&gt;/SENSOR</c>, cumulative <c>ENERGY.Total</c> in kWh.</summary>
    Tasmota,

    /// <summary>Shelly Gen2: <c>&lt;prefix&gt;/status/switch:0</c>, cumulative <c>aenergy.total</c> in Wh.</summary>
    Shelly,
}

/// <summary>One smart plug (<c>PrintFarm:Energy:Plugs:&lt;name&gt;</c>): the printer it feeds and where it publishes.</summary>
public sealed class PlugOptions
{
    /// <summary>The printer id (as in its own topics) plugged into it. Required.</summary>
    public string Printer { get; set; } = string.Empty;

    /// <summary>Payload format: <c>Tasmota</c> or <c>Shelly</c>. Default <c>Tasmota</c>.</summary>
    public PlugType Type { get; set; } = PlugType.Tasmota;

    /// <summary>
    /// The exact topic it publishes its counter on. Default: <c>tele/&lt;name&gt;/SENSOR</c> for Tasmota (the plug's
    /// <c>Topic</c> setting is its name), <c>&lt;name&gt;/status/switch:0</c> for Shelly (its MQTT prefix is its name).
    /// </summary>
    public string? Topic { get; set; }

    /// <summary>The topic the plug publishes on: <see cref="Topic"/>, or the default of its type for <paramref name="name"/>.</summary>
    public string TopicFor(string name) => !string.IsNullOrWhiteSpace(Topic) ? Topic.Trim()
        : Type == PlugType.Shelly ? $"{name}/status/switch:0" : $"tele/{name}/SENSOR";
}

/// <summary>Metered energy (<c>PrintFarm:Energy</c>): the smart plugs and the printers they feed.</summary>
public sealed class EnergyOptions
{
    /// <summary>Smart plugs by name. Default none: energy comes only from native <c>energy</c> events.</summary>
    public Dictionary<string, PlugOptions> Plugs { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The problems with these settings, each naming its key (relative to <c>PrintFarm:Energy</c>): a plug without a
    /// printer or with a printer not on <paramref name="allowedPrinters"/> (when that list is not empty), two plugs on
    /// one topic or one printer, a topic with wildcards.
    /// </summary>
    public IEnumerable<string> Validate(IReadOnlyCollection<string>? allowedPrinters = null)
    {
        var topics = new Dictionary<string, string>(StringComparer.Ordinal);
        var printers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, plug) in Plugs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (plug is null)
            {
                yield return $"Plugs:{name} is empty: give at least its Printer";
                continue;
            }

            if (!TagValue.IsValid(plug.Printer))
            {
                yield return $"Plugs:{name}:Printer is '{plug.Printer}': must be the id of the printer plugged into it";
            }
            else if (allowedPrinters is { Count: > 0 } && !allowedPrinters.Contains(plug.Printer))
            {
                yield return $"Plugs:{name}:Printer is '{plug.Printer}': not a known printer (not on PrintFarm:Guards:AllowedPrinters)";
            }
            else if (printers.TryGetValue(plug.Printer, out var other))
            {
                yield return $"Plugs:{name}:Printer is '{plug.Printer}': plug '{other}' already feeds that printer (one plug per printer)";
            }
            else
            {
                printers[plug.Printer] = name;
            }

            var topic = plug.TopicFor(name);
            if (topic.Length == 0 || topic.AsSpan().IndexOfAny('+', '#') >= 0)
            {
                yield return $"Plugs:{name}:Topic is '{topic}': must be the plug's exact topic, without wildcards";
            }
            else if (topics.TryGetValue(topic, out var same))
            {
                yield return $"Plugs:{name}:Topic is '{topic}': plug '{same}' already uses it (a duplicate plug)";
            }
            else
            {
                topics[topic] = name;
            }
        }
    }
}
