namespace PrintFarm.Core.Ingestion.Moonraker;

/// <summary>
/// Topics of Moonraker's <c>[mqtt]</c> component (Arksine/moonraker <c>components/mqtt.py</c>), with each printer's
/// <c>instance_name</c> set to its printer id. Moonraker must publish <c>print_stats</c> through
/// <c>status_objects</c> (see <c>docs/printers.md</c>); nothing else carries job state over MQTT.
/// </summary>
public sealed class MoonrakerAdapterOptions
{
    /// <summary>Whether the worker registers this adapter. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Klipper status deltas (<c>publish_split_status: False</c>). Default <c>{printer}/klipper/status</c>.</summary>
    public string StatusTopic { get; set; } = "{printer}/klipper/status";

    /// <summary>Split status, one retained topic per field (<c>publish_split_status: True</c>); must contain <c>{object}</c> and <c>{field}</c>. Default <c>{printer}/klipper/state/{object}/{field}</c>.</summary>
    public string StateTopic { get; set; } = "{printer}/klipper/state/{object}/{field}";

    /// <summary>Moonraker's own presence, <c>{"server":"online"|"offline"}</c>, retained and the last will. Default <c>{printer}/moonraker/status</c>.</summary>
    public string ServerTopic { get; set; } = "{printer}/moonraker/status";

    /// <summary>The topic patterns.</summary>
    /// <exception cref="ArgumentException">A pattern is invalid.</exception>
    public IReadOnlyList<TopicPattern> BuildTopics()
    {
        // The status and server payloads are told apart by their content ("status" or "server"), the split topic
        // by its {object}/{field} levels.
        foreach (var (pattern, option, split) in new[] { (StatusTopic, nameof(StatusTopic), false), (ServerTopic, nameof(ServerTopic), false), (StateTopic, nameof(StateTopic), true) })
        {
            if (string.IsNullOrWhiteSpace(pattern))
            {
                throw new ArgumentException($"Moonraker {option} is empty", option);
            }

            var hasLevels = pattern.Contains("{object}", StringComparison.Ordinal) && pattern.Contains("{field}", StringComparison.Ordinal);
            if (hasLevels != split)
            {
                throw new ArgumentException(
                    split ? $"Moonraker {option} '{pattern}' must contain the levels {{object}} and {{field}}" : $"Moonraker {option} '{pattern}' must not contain {{object}} and {{field}}",
                    option);
            }
        }

        return [new TopicPattern(StatusTopic), new TopicPattern(StateTopic), new TopicPattern(ServerTopic)];
    }
}
