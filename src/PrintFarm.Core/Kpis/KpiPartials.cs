namespace PrintFarm.Core.Kpis;

/// <summary>
/// Adds up the partial <c>kpi</c> points that the partitions of a clustered farm write for one window and subject
/// (each tagged with its partition, docs/data-model.md "Partitions"): the raw sums are added, and every ratio is
/// derived again from the added sums with the formulas of <see cref="KpiTotals"/> and <see cref="Oee"/> — never an
/// average of the partitions' ratios. The board's queries do the same in InfluxQL; this is for readers in code.
/// </summary>
public static class KpiPartials
{
    // KpiTotals.FromSums order.
    private static readonly string[] TotalsFields =
    [
        "jobs_completed", "jobs_failed", "jobs_cancelled", "toys_completed", "print_time_s", "filament_used_g", "filament_waste_g",
        "jobs_without_filament", "estimated_jobs_actual_s", "estimated_jobs_estimate_s", "material_cost", "printing_s",
    ];

    /// <summary>Fields that are raw sums: added across partitions (printers are disjoint, so printers seen add up too).</summary>
    public static IReadOnlyList<string> SumFields { get; } =
    [
        .. TotalsFields, "capacity_s", "printers_seen",
        "toys_started", "good_toys", "oee_planned_s", "oee_printing_s", "oee_estimate_s", "oee_actual_s",
        "energy_kwh", "job_energy_kwh", "idle_energy_kwh", "cost_total", "cost_material", "cost_energy", "cost_machine", "cost_labour",
    ];

    /// <summary>
    /// The merged fields of <paramref name="partials"/> (each a point's numeric fields): every sum field any partial
    /// has, added; then the ratios whose inputs are there. A ratio without a denominator is left out, as the worker does.
    /// </summary>
    public static Dictionary<string, double> Merge(IEnumerable<IReadOnlyDictionary<string, double>> partials)
    {
        ArgumentNullException.ThrowIfNull(partials);
        var merged = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var partial in partials)
        {
            foreach (var field in SumFields)
            {
                if (partial.TryGetValue(field, out var value))
                {
                    merged[field] = merged.GetValueOrDefault(field) + value;
                }
            }
        }

        var totals = KpiTotals.FromSums(TotalsFields.Select(f => merged.GetValueOrDefault(f)).ToArray());
        Put(merged, "avg_print_time_per_toy_s", totals.AvgPrintTimePerToySeconds);
        Put(merged, "material_efficiency", totals.MaterialEfficiency);
        Put(merged, "success_rate", totals.SuccessRate);
        Put(merged, "estimate_ratio", totals.EstimateRatio);
        Put(merged, "material_cost_per_toy", totals.MaterialCostPerToy);
        if (merged.TryGetValue("capacity_s", out var capacity))
        {
            Put(merged, "utilization", totals.UtilizationOf(capacity));
        }

        if (merged.TryGetValue("oee_planned_s", out var planned))
        {
            var availability = Oee.Availability(merged.GetValueOrDefault("oee_printing_s"), planned);
            var performance = Oee.Performance(merged.GetValueOrDefault("oee_estimate_s"), merged.GetValueOrDefault("oee_actual_s"));
            var quality = Oee.Quality((long)merged.GetValueOrDefault("good_toys"), (long)merged.GetValueOrDefault("toys_started"));
            Put(merged, "availability", availability);
            Put(merged, "performance", performance);
            Put(merged, "quality", quality);
            Put(merged, "oee", Oee.Value(availability, performance, quality));
        }

        // Landed cost (docs/kpis.md): per good toy, the good toys being the window's completed toys.
        if (merged.TryGetValue("cost_total", out var cost) && merged.GetValueOrDefault("toys_completed") is > 0 and var toys)
        {
            merged["cost_per_toy"] = cost / toys;
            merged["energy_per_toy_kwh"] = merged.GetValueOrDefault("energy_kwh") / toys;
            foreach (var part in (string[])["material", "energy", "machine", "labour"])
            {
                merged[$"cost_{part}_per_toy"] = merged.GetValueOrDefault($"cost_{part}") / toys;
            }
        }

        return merged;
    }

    private static void Put(Dictionary<string, double> fields, string name, double? value)
    {
        if (value is { } v)
        {
            fields[name] = v;
        }
    }
}
