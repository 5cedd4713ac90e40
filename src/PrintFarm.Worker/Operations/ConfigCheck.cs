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
    public const string Mask = SecretMasking.Mask;

    // Printed for a person: & and < as they are, not \u0026.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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

    /// <summary>The options as indented JSON under a <c>PrintFarm</c> key, every secret masked (<see cref="SecretMasking"/>).</summary>
    public static string Render(PrintFarmOptions options)
    {
        var node = JsonSerializer.SerializeToNode(options, Indented)!;
        MaskNode(node);
        return new JsonObject { [PrintFarmOptions.SectionName] = node }.ToJsonString(Indented);
    }

    /// <summary>
    /// Every secret in <paramref name="options"/>, whole or in part (a password, a URL's credentials, a webhook's
    /// secret path): what must not appear in any output. For masking free text and for tests.
    /// </summary>
    public static IReadOnlyCollection<string> Secrets(PrintFarmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var secrets = new List<string>();
        Collect(JsonSerializer.SerializeToNode(options), string.Empty, secrets);
        return secrets;
    }

    /// <summary><paramref name="text"/> with every secret of <paramref name="options"/> and every secret-shaped value masked.</summary>
    public static string MaskSecrets(string text, PrintFarmOptions options) =>
        SecretMasking.Text(SecretMasking.Replace(text, Secrets(options)));

    private static void Collect(JsonNode? node, string key, List<string> secrets)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    Collect(value, name, secrets);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Collect(item, key, secrets);
                }

                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                SecretMasking.Collect(key, v.GetValue<string>(), secrets);
                break;
        }
    }

    private static void MaskNode(JsonNode? node)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, value) in obj.ToList())
            {
                if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                {
                    obj[key] = SecretMasking.Value(key, v.GetValue<string>());
                }
                else
                {
                    MaskNode(value);
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                {
                    array[i] = SecretMasking.Text(v.GetValue<string>());
                }
                else
                {
                    MaskNode(array[i]);
                }
            }
        }
    }
}
