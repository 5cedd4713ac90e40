namespace PrintFarm.Core.Ingestion.OctoPrint;

/// <summary>
/// Topics of the OctoPrint MQTT plugin (OctoPrint/OctoPrint-MQTT). Each printer's OctoPrint sets the plugin's base
/// topic to <c>octoPrint/{printer}/</c>; the sub-topics are the plugin's defaults. Every pattern may be changed, but
/// each keeps the placeholder that tells the message types apart (<c>{event}</c>, <c>{progress}</c>, <c>{heater}</c>).
/// </summary>
public sealed class OctoPrintAdapterOptions
{
    /// <summary>The plugin's default base topic, for a single printer left on it (see <see cref="DefaultPrinter"/>).</summary>
    public const string PluginDefaultBaseTopic = "octoPrint";

    /// <summary>Whether the worker registers this adapter. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Event topic; must contain <c>{event}</c>. Default <c>octoPrint/{printer}/event/{event}</c>.</summary>
    public string EventTopic { get; set; } = "octoPrint/{printer}/event/{event}";

    /// <summary>Progress topic; must contain <c>{progress}</c> (the plugin sends <c>printing</c> and <c>slicing</c>). Default <c>octoPrint/{printer}/progress/{progress}</c>.</summary>
    public string ProgressTopic { get; set; } = "octoPrint/{printer}/progress/{progress}";

    /// <summary>Temperature topic; must contain <c>{heater}</c> (<c>tool0</c>, <c>bed</c>, …). Default <c>octoPrint/{printer}/temperature/{heater}</c>.</summary>
    public string TemperatureTopic { get; set; } = "octoPrint/{printer}/temperature/{heater}";

    /// <summary>Presence (last-will) topic with plain-text <c>connected</c>/<c>disconnected</c>. Default <c>octoPrint/{printer}/mqtt</c>.</summary>
    public string PresenceTopic { get; set; } = "octoPrint/{printer}/mqtt";

    /// <summary>
    /// Printer id for a single OctoPrint left on the plugin's default base topic <c>octoPrint/</c>: when set, the four
    /// patterns are also subscribed without their <c>{printer}</c> level (<c>octoPrint/event/{event}</c>, …) and
    /// those messages belong to this printer. Default none.
    /// </summary>
    public string? DefaultPrinter { get; set; }

    /// <summary>Every topic pattern this configuration subscribes to, fixed-printer ones first.</summary>
    /// <exception cref="ArgumentException">A pattern is invalid or lacks its type placeholder.</exception>
    public IReadOnlyList<TopicPattern> BuildTopics()
    {
        // The placeholder is how the adapter tells the message types apart without re-matching the topic.
        Require(EventTopic, "{event}", nameof(EventTopic));
        Require(ProgressTopic, "{progress}", nameof(ProgressTopic));
        Require(TemperatureTopic, "{heater}", nameof(TemperatureTopic));
        Require(PresenceTopic, null, nameof(PresenceTopic));

        string[] patterns = [EventTopic, ProgressTopic, TemperatureTopic, PresenceTopic];
        var topics = new List<TopicPattern>();
        if (!string.IsNullOrWhiteSpace(DefaultPrinter))
        {
            foreach (var p in patterns)
            {
                var withoutPrinter = string.Join('/', p.Split('/').Where(level => level != "{printer}"));
                topics.Add(new TopicPattern(withoutPrinter, DefaultPrinter.Trim()));
            }
        }

        topics.AddRange(patterns.Select(p => new TopicPattern(p)));
        return topics;
    }

    private static readonly string[] TypePlaceholders = ["{event}", "{progress}", "{heater}"];

    private static void Require(string pattern, string? placeholder, string option)
    {
        if (string.IsNullOrWhiteSpace(pattern))
        {
            throw new ArgumentException($"OctoPrint {option} is empty", option);
        }

        foreach (var p in TypePlaceholders)
        {
            var wanted = p == placeholder;
            if (pattern.Contains(p, StringComparison.Ordinal) != wanted)
            {
                throw new ArgumentException(
                    wanted ? $"OctoPrint {option} '{pattern}' must contain the level {p}" : $"OctoPrint {option} '{pattern}' must not contain {p}",
                    option);
            }
        }
    }
}
