using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// <c>--check-config</c>: prints the effective configuration (defaults, files, environment and secret files applied)
/// with every secret masked, validates it, and returns the exit code: 0 valid, 2 invalid.
/// </summary>
internal static class ConfigCheck
{
    /// <summary>Printed instead of a secret.</summary>
    public const string Mask = "***";

    private static readonly string[] SecretNames = ["Password", "Token"];
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Run(IServiceProvider services, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(output);
        var configuration = services.GetRequiredService<IConfiguration>();
        var options = new PrintFarmOptions();
        configuration.GetSection(PrintFarmOptions.SectionName).Bind(options);
        foreach (var post in services.GetServices<IPostConfigureOptions<PrintFarmOptions>>())
        {
            post.PostConfigure(Options.DefaultName, options);
        }

        var failures = services.GetServices<IValidateOptions<PrintFarmOptions>>()
            .Select(v => v.Validate(Options.DefaultName, options))
            .Where(r => r.Failed)
            .SelectMany(r => r.Failures ?? [])
            .ToList();

        output.WriteLine("Effective configuration (secrets masked):");
        output.WriteLine(Render(options));
        if (failures.Count == 0)
        {
            output.WriteLine("Configuration is valid.");
            return 0;
        }

        output.WriteLine($"Configuration is NOT valid ({failures.Count} problem{(failures.Count == 1 ? string.Empty : "s")}):");
        foreach (var failure in failures)
        {
            output.WriteLine("  " + MaskSecrets(failure, options));
        }

        return 2;
    }

    /// <summary>The options as indented JSON under a <c>PrintFarm</c> key, secrets and URL credentials masked.</summary>
    public static string Render(PrintFarmOptions options)
    {
        var node = JsonSerializer.SerializeToNode(options, Indented)!;
        MaskNode(node);
        return new JsonObject { [PrintFarmOptions.SectionName] = node }.ToJsonString(Indented);
    }

    /// <summary>Every configured secret value of <paramref name="options"/>, for masking and for tests.</summary>
    public static IEnumerable<string> Secrets(PrintFarmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new[] { options.Mqtt.Password, options.Influx.Password, options.Influx.Token }.Where(s => !string.IsNullOrEmpty(s))!;
    }

    private static string MaskSecrets(string text, PrintFarmOptions options) =>
        Secrets(options).Aggregate(text, (t, secret) => t.Replace(secret, Mask, StringComparison.Ordinal));

    private static void MaskNode(JsonNode? node)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, value) in obj.ToList())
            {
                if (SecretNames.Contains(key, StringComparer.OrdinalIgnoreCase) && value is JsonValue v && v.ToString().Length > 0)
                {
                    obj[key] = Mask;
                }
                else if (value is JsonValue url && key.EndsWith("Url", StringComparison.Ordinal) && Uri.TryCreate(url.ToString(), UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0)
                {
                    obj[key] = uri.GetLeftPart(UriPartial.Authority).Replace(uri.UserInfo + "@", Mask + "@", StringComparison.Ordinal) + uri.PathAndQuery;
                }
                else
                {
                    MaskNode(value);
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                MaskNode(item);
            }
        }
    }
}
