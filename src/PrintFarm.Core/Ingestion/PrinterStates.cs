using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace PrintFarm.Core.Ingestion;

/// <summary>
/// The per-printer state a stateful adapter keeps (Moonraker's merged <c>print_stats</c>, Bambu's last report,
/// OctoPrint's estimates), with the checkpoint round trip every such adapter needs. One small object per printer.
/// </summary>
/// <typeparam name="TState">A plain class System.Text.Json can round-trip.</typeparam>
internal sealed class PrinterStates<TState>
    where TState : class, new()
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly Dictionary<string, TState> _printers = new(StringComparer.Ordinal);
    private readonly Action<TState>? _afterRestore;

    /// <param name="afterRestore">Repairs a restored state (for example members an older checkpoint lacks).</param>
    public PrinterStates(Action<TState>? afterRestore = null) => _afterRestore = afterRestore;

    /// <summary>The printer's state, created on first use.</summary>
    public TState Get(string printer)
    {
        if (!_printers.TryGetValue(printer, out var state))
        {
            state = new TState();
            _printers.Add(printer, state);
        }

        return state;
    }

    /// <summary>For <see cref="ICheckpointableAdapter.SaveState"/>.</summary>
    public JsonNode? Save() => _printers.Count == 0 ? null : JsonSerializer.SerializeToNode(_printers, Json);

    /// <summary>For <see cref="ICheckpointableAdapter.RestoreState"/>.</summary>
    public void Restore(JsonNode state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var restored = state.Deserialize<Dictionary<string, TState>>(Json);
        _printers.Clear();
        foreach (var (printer, s) in restored ?? [])
        {
            _afterRestore?.Invoke(s);
            _printers[printer] = s;
        }
    }
}
