namespace PrintFarm.Worker.Configuration;

/// <summary>
/// Reads secrets from files (<c>Mqtt:PasswordFile</c>, <c>Influx:TokenFile</c>, <c>Influx:PasswordFile</c>), the way
/// docker and systemd hand them over (<c>/run/secrets/…</c>, <c>$CREDENTIALS_DIRECTORY/…</c>). A file wins over the
/// plain setting. The first line is the secret; a trailing newline is not part of it.
/// </summary>
internal static class SecretFiles
{
    /// <summary>Fills the secrets from their files; an unreadable file is left for the validator to report.</summary>
    public static void Apply(PrintFarmOptions o)
    {
        o.Mqtt.Password = TryRead(o.Mqtt.PasswordFile, out var mqtt, out _) ? mqtt : o.Mqtt.Password;
        o.Influx.Token = TryRead(o.Influx.TokenFile, out var token, out _) ? token : o.Influx.Token;
        o.Influx.Password = TryRead(o.Influx.PasswordFile, out var influx, out _) ? influx : o.Influx.Password;
        foreach (var printer in o.Mqtt.EmbeddedBroker.Printers.Values)
        {
            printer.Password = TryRead(printer.PasswordFile, out var password, out _) ? password : printer.Password;
        }
    }

    /// <summary>Reads the first line of <paramref name="path"/>; false (with the reason) when not set, missing, unreadable or empty.</summary>
    public static bool TryRead(string? path, out string? secret, out string? problem)
    {
        secret = null;
        problem = null;
        if (string.IsNullOrEmpty(path))
        {
            return false;
        }

        try
        {
            using var reader = new StreamReader(path);
            secret = reader.ReadLine()?.TrimEnd('\r');
            if (string.IsNullOrEmpty(secret))
            {
                problem = "the file is empty";
                secret = null;
                return false;
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = ex.Message;
            return false;
        }
    }
}
