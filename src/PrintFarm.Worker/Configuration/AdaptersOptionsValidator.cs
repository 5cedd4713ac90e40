using PrintFarm.Core.Ingestion;

namespace PrintFarm.Worker.Configuration;

/// <summary>Checks <c>PrintFarm:Adapters</c> and <c>PrintFarm:PrinterMaterials</c>; called by <see cref="PrintFarmOptionsValidator"/>.</summary>
internal static class AdaptersOptionsValidator
{
    private const string P = PrintFarmOptions.SectionName;

    public static void Validate(PrintFarmOptions o, List<string> errors)
    {
        var a = o.Adapters;
        if (!a.Native.Enabled && !a.OctoPrint.Enabled && !a.Moonraker.Enabled && !a.Bambu.Enabled)
        {
            errors.Add($"{P}:Adapters has every adapter disabled: enable at least one of Native, OctoPrint, Moonraker, Bambu");
        }

        if (a.OctoPrint.Enabled)
        {
            Topics(errors, "OctoPrint", a.OctoPrint.BuildTopics, "a topic pattern with a {printer} level and its type level ({event}, {progress} or {heater}; none for PresenceTopic)");
            var d = a.OctoPrint.DefaultPrinter;
            if (d is not null && (string.IsNullOrWhiteSpace(d) || !IsPrinterId(d)))
            {
                errors.Add($"{P}:Adapters:OctoPrint:DefaultPrinter is '{d}': must be a printer id without '/', '+', '#' or line breaks, or left unset");
            }
        }

        if (a.Moonraker.Enabled)
        {
            Topics(errors, "Moonraker", a.Moonraker.BuildTopics, "a topic pattern with a {printer} level (StateTopic also {object} and {field})");
        }

        if (a.Bambu.Enabled)
        {
            Topics(errors, "Bambu", a.Bambu.BuildTopics, "a topic pattern with a {printer} level for the serial number");
            foreach (var (serial, name) in a.Bambu.Printers)
            {
                if (string.IsNullOrWhiteSpace(name) || !IsPrinterId(name))
                {
                    errors.Add($"{P}:Adapters:Bambu:Printers:{serial} is '{name}': must be a printer id without '/', '+', '#' or line breaks");
                }
            }

            if (a.Bambu.CancelGracePeriod < TimeSpan.Zero || a.Bambu.CancelGracePeriod > TimeSpan.FromMinutes(10))
            {
                errors.Add($"{P}:Adapters:Bambu:CancelGracePeriod is '{a.Bambu.CancelGracePeriod}': must be a duration from 00:00:00 to 00:10:00");
            }
        }

        foreach (var (printer, material) in o.PrinterMaterials)
        {
            if (string.IsNullOrWhiteSpace(material) || material.AsSpan().IndexOfAny('\n', '\r') >= 0)
            {
                errors.Add($"{P}:PrinterMaterials:{printer} is '{material}': must name a material such as PLA");
            }
        }
    }

    private static void Topics(List<string> errors, string adapter, Func<IReadOnlyList<TopicPattern>> build, string allowed)
    {
        try
        {
            _ = build();
        }
        catch (ArgumentException ex)
        {
            // The options name the offending property in ParamName.
            errors.Add($"{P}:Adapters:{adapter}:{ex.ParamName ?? "topics"} is invalid: must be {allowed} ({ex.Message})");
        }
    }

    private static bool IsPrinterId(string id) => id.AsSpan().IndexOfAny("/+#\r\n") < 0;
}
