namespace PrintFarm.Core.Cost;

/// <summary>
/// Landed cost per job and per toy (<c>PrintFarm:Cost</c>): the prices besides the material prices
/// (<c>PrintFarm:Materials:&lt;name&gt;:PricePerKg</c>), all in the farm's currency.
/// </summary>
public sealed class CostOptions
{
    /// <summary>Compute energy per job and landed cost (<c>job</c> and <c>kpi</c> fields). Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>Price of one kWh. Default 0.</summary>
    public double EnergyPerKwh { get; set; }

    /// <summary>Machine depreciation per printing hour (a printer's price ÷ the hours it is expected to print). Default 0.</summary>
    public double MachinePerPrintingHour { get; set; }

    /// <summary>Labour per plate: starting the job and clearing the bed, whatever its outcome. Default 0.</summary>
    public double LabourPerPlate { get; set; }

    /// <summary>The prices as the cost formula takes them.</summary>
    public CostPrices Prices => new(EnergyPerKwh, MachinePerPrintingHour, LabourPerPlate);

    /// <summary>The problems with these settings, each naming its key relative to <c>PrintFarm:Cost</c>.</summary>
    public IEnumerable<string> Validate()
    {
        foreach (var (key, value) in new[] { (nameof(EnergyPerKwh), EnergyPerKwh), (nameof(MachinePerPrintingHour), MachinePerPrintingHour), (nameof(LabourPerPlate), LabourPerPlate) })
        {
            // A price above a million per unit is a typing mistake (a missing decimal point), not a tariff.
            if (!double.IsFinite(value) || value < 0 || value > 1_000_000)
            {
                yield return $"{key} is '{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}': must be a price between 0 and 1000000 in the farm's currency";
            }
        }
    }
}
