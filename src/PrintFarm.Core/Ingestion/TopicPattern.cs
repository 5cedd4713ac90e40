namespace PrintFarm.Core.Ingestion;

/// <summary>
/// An MQTT topic pattern with named single-level placeholders, such as <c>printfarm/{printer}/event</c> or
/// <c>{printer}/klipper/state/{object}/{field}</c>. Each placeholder becomes a <c>+</c> in the subscription
/// filter and is captured when a topic matches. A pattern without <c>{printer}</c> names one printer, given
/// as <see cref="FixedPrinter"/>.
/// </summary>
public sealed class TopicPattern
{
    private readonly string[] _segments;
    private readonly string?[] _placeholders;

    /// <summary>Parses <paramref name="pattern"/>.</summary>
    /// <exception cref="ArgumentException">The pattern is empty, uses MQTT wildcards, or lacks both <c>{printer}</c> and a fixed printer.</exception>
    public TopicPattern(string pattern, string? fixedPrinter = null)
    {
        if (string.IsNullOrWhiteSpace(pattern))
        {
            throw new ArgumentException("topic pattern is empty", nameof(pattern));
        }

        if (pattern.Contains('+', StringComparison.Ordinal) || pattern.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"topic pattern '{pattern}' must use {{name}} placeholders, not MQTT wildcards", nameof(pattern));
        }

        Pattern = pattern;
        _segments = pattern.Split('/');
        _placeholders = new string?[_segments.Length];
        for (var i = 0; i < _segments.Length; i++)
        {
            var s = _segments[i];
            if (s.Length > 2 && s[0] == '{' && s[^1] == '}')
            {
                _placeholders[i] = s[1..^1];
            }
            else if (s.Contains('{', StringComparison.Ordinal) || s.Contains('}', StringComparison.Ordinal))
            {
                throw new ArgumentException($"topic pattern '{pattern}': a placeholder must fill a whole level, as in a/{{printer}}/b", nameof(pattern));
            }
        }

        var hasPrinter = Array.IndexOf(_placeholders, "printer") >= 0;
        if (!hasPrinter && string.IsNullOrWhiteSpace(fixedPrinter))
        {
            throw new ArgumentException($"topic pattern '{pattern}' has no {{printer}} level and no fixed printer id", nameof(pattern));
        }

        FixedPrinter = hasPrinter ? null : fixedPrinter;
        SubscriptionFilter = string.Join('/', _segments.Select((s, i) => _placeholders[i] is null ? s : "+"));
    }

    /// <summary>The pattern as written.</summary>
    public string Pattern { get; }

    /// <summary>The printer every matching topic belongs to, for a pattern without <c>{printer}</c>.</summary>
    public string? FixedPrinter { get; }

    /// <summary>The MQTT subscription filter: placeholders replaced by <c>+</c>.</summary>
    public string SubscriptionFilter { get; }

    /// <summary>Matches <paramref name="topic"/>; on success returns the printer and the other captured levels.</summary>
    public bool TryMatch(string topic, out TopicMatch match)
    {
        match = default;
        var levels = 1;
        foreach (var c in topic)
        {
            if (c == '/')
            {
                levels++;
            }
        }

        if (levels != _segments.Length)
        {
            return false;
        }

        string? printer = FixedPrinter;
        List<KeyValuePair<string, string>>? captures = null;
        var start = 0;
        for (var i = 0; i < _segments.Length; i++)
        {
            var end = topic.IndexOf('/', start);
            if (end < 0)
            {
                end = topic.Length;
            }

            var level = topic.AsSpan(start, end - start);
            var placeholder = _placeholders[i];
            if (placeholder is null)
            {
                if (!level.SequenceEqual(_segments[i]))
                {
                    return false;
                }
            }
            else
            {
                if (level.IsEmpty)
                {
                    return false;
                }

                var value = level.ToString();
                if (placeholder == "printer")
                {
                    printer = value;
                }
                else
                {
                    (captures ??= []).Add(new(placeholder, value));
                }
            }

            start = end + 1;
        }

        match = new TopicMatch(printer!, captures);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Pattern;
}

/// <summary>A topic matched against a <see cref="TopicPattern"/>.</summary>
public readonly struct TopicMatch
{
    private readonly List<KeyValuePair<string, string>>? _captures;

    internal TopicMatch(string printer, List<KeyValuePair<string, string>>? captures)
    {
        Printer = printer;
        _captures = captures;
    }

    /// <summary>Printer id from the topic (or the pattern's fixed printer).</summary>
    public string Printer { get; }

    /// <summary>The same match with another printer id (the sanitized one, or the cardinality guard's fold).</summary>
    public TopicMatch WithPrinter(string printer) => new(printer, _captures);

    /// <summary>The value of placeholder <paramref name="name"/>, or <see langword="null"/>.</summary>
    public string? this[string name]
    {
        get
        {
            if (_captures is null)
            {
                return null;
            }

            foreach (var (key, value) in _captures)
            {
                if (key == name)
                {
                    return value;
                }
            }

            return null;
        }
    }
}
