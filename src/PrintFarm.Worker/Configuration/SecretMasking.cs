namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Hides secrets in whatever the worker prints (the banner, <c>--check-config</c>, validation failures, log lines):
/// by the setting's name (any key ending in <c>Password</c>, <c>Token</c>, <c>Secret</c> or <c>Key</c>, and
/// <c>Authorization</c>) and by what a value is, whatever its key — a URL's user-info, its query parameters named like a
/// credential (<c>u</c>, <c>p</c>, <c>password</c>, <c>token</c>, <c>key</c>, <c>secret</c>, <c>sig</c>, …), the secret
/// path of a Slack, Discord, Teams or Mattermost webhook, and an HTTP authorization value (<c>Bearer …</c>,
/// <c>Basic …</c>).
/// </summary>
internal static class SecretMasking
{
    /// <summary>Printed instead of a secret.</summary>
    public const string Mask = "***";

    private static readonly string[] SecretKeySuffixes = ["Password", "Token", "Secret", "Key"];

    // Query parameter names that carry a credential: InfluxDB 1.x (u, p), API keys, signed URLs (sig, signature), OAuth.
    private static readonly HashSet<string> SecretQueryNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "u", "p", "user", "username", "password", "pass", "pwd", "passwd", "token", "access_token", "auth", "authorization",
        "key", "apikey", "api_key", "api-key", "secret", "client_secret", "sig", "signature", "code", "x-amz-signature",
    };

    // Levels of a webhook URL after which the rest of the path is the secret: Slack (/services/T…/B…/…), Discord
    // (/api/webhooks/{id}/{token}), Mattermost and Rocket.Chat (/hooks/…), Teams (/webhookb2/…, /IncomingWebhook/…).
    private static readonly HashSet<string> WebhookPathMarkers = new(StringComparer.OrdinalIgnoreCase)
    {
        "services", "webhooks", "hooks", "webhookb2", "IncomingWebhook", "triggers",
    };

    private static readonly string[] AuthorizationSchemes = ["Bearer", "Basic", "Token", "Digest", "ApiKey", "Key"];

    /// <summary>True when a setting named <paramref name="key"/> (the last level of its path) holds a secret.</summary>
    public static bool IsSecretKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var name = key[(key.LastIndexOf(':') + 1)..];
        return name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
            || SecretKeySuffixes.Any(s => name.EndsWith(s, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The value of the setting <paramref name="key"/> as it may be printed.</summary>
    public static string? Value(string key, object? value)
    {
        var text = value switch
        {
            null => null,
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        return IsSecretKey(key) ? Mask : Text(text);
    }

    /// <summary><paramref name="text"/> with every secret it shows by its form masked (URLs, authorization values).</summary>
    public static string Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var secrets = new List<string>();
        Collect(text, secrets);
        return Replace(text, secrets);
    }

    /// <summary>Replaces every one of <paramref name="secrets"/> in <paramref name="text"/> by <see cref="Mask"/>, the longest first.</summary>
    public static string Replace(string text, IEnumerable<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var secret in secrets.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>
    /// Adds to <paramref name="secrets"/> the parts of <paramref name="value"/> (a setting of <paramref name="key"/>) that
    /// must not be printed: the whole value for a secret key, else the secret parts of every URL or authorization value in it.
    /// </summary>
    public static void Collect(string key, string? value, ICollection<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (IsSecretKey(key))
        {
            secrets.Add(value);
            return;
        }

        Collect(value, secrets);
    }

    private static void Collect(string text, ICollection<string> secrets)
    {
        foreach (var word in text.Split([' ', '\t', '\n', '\r', '\'', '"', ',', ';', '(', ')', '<', '>'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.Contains("://", StringComparison.Ordinal))
            {
                CollectUrl(word, secrets);
            }
        }

        // "Bearer abc", "Basic dXNlcjpwYXNz": the credential after a known scheme.
        var words = text.Split([' ', '\t', '\n', '\r', '\'', '"', ','], StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i + 1 < words.Length; i++)
        {
            if (AuthorizationSchemes.Contains(words[i].TrimEnd(':'), StringComparer.OrdinalIgnoreCase) && words[i + 1].Length >= 8)
            {
                secrets.Add(words[i + 1]);
            }
        }
    }

    private static void CollectUrl(string text, ICollection<string> secrets)
    {
        var start = text.IndexOf("://", StringComparison.Ordinal) + 3;
        var rest = text[start..];
        var authorityEnd = rest.IndexOfAny(['/', '?', '#']);
        var authority = authorityEnd < 0 ? rest : rest[..authorityEnd];
        var at = authority.LastIndexOf('@');
        if (at > 0)
        {
            var userInfo = authority[..at];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            // user:password@ hides the password, and the user too: a token is often given as the user (https://token@host).
            secrets.Add(userInfo);
            if (colon >= 0 && colon + 1 < userInfo.Length)
            {
                secrets.Add(userInfo[(colon + 1)..]);
            }
        }

        if (authorityEnd < 0)
        {
            return;
        }

        var tail = rest[authorityEnd..];
        var fragment = tail.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            tail = tail[..fragment];
        }

        var query = tail.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? tail : tail[..query];
        var levels = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var marker = Array.FindIndex(levels, l => WebhookPathMarkers.Contains(l));
        if (marker >= 0 && marker + 1 < levels.Length)
        {
            // Discord keeps the webhook's id (a number) visible, so an operator can tell two webhooks apart.
            var first = marker + 1;
            if (first + 1 < levels.Length && levels[first].All(char.IsAsciiDigit))
            {
                first++;
            }

            secrets.Add(string.Join('/', levels[first..]));
        }

        foreach (var level in levels)
        {
            if (LooksLikeToken(level))
            {
                secrets.Add(level);
            }
        }

        if (query >= 0)
        {
            foreach (var pair in tail[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && eq + 1 < pair.Length && (SecretQueryNames.Contains(Uri.UnescapeDataString(pair[..eq])) || IsSecretKey(pair[..eq])))
                {
                    secrets.Add(pair[(eq + 1)..]);
                }
            }
        }
    }

    // A path level of 24 or more letters and digits, with both: a generated token, not a word of a route.
    private static bool LooksLikeToken(string level) =>
        level.Length >= 24
        && level.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
        && level.Any(char.IsAsciiDigit)
        && level.Any(char.IsAsciiLetter);

    /// <summary>For tests and docs: the masked form of <paramref name="url"/>.</summary>
    public static string Url(string url) => Replace(url, Parts(url));

    private static List<string> Parts(string text)
    {
        var list = new List<string>();
        Collect(text, list);
        return list;
    }
}
