using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace PrintFarm.Core.Ingestion;

/// <summary>A per-printer adapter state that can copy itself, so a message's changes can be staged on the copy.</summary>
/// <typeparam name="TSelf">The state type.</typeparam>
internal interface IPrinterState<TSelf>
    where TSelf : class
{
    /// <summary>A deep copy: nothing the copy's owner changes may show through in the original.</summary>
    TSelf Copy();
}

/// <summary>
/// The per-printer state a stateful adapter keeps (Moonraker's merged <c>print_stats</c>, Bambu's last report,
/// OctoPrint's estimates), with the checkpoint round trip every such adapter needs. One small object per printer.
/// </summary>
/// <remarks>
/// Changes are staged: <see cref="Get"/> hands out a working copy of the committed state, and only
/// <see cref="Commit"/> makes the copies the state later messages see. The processor commits once the message is
/// accepted whole (its event times included) and discards otherwise, so rejected input changes no state.
/// </remarks>
/// <typeparam name="TState">A plain class System.Text.Json can round-trip.</typeparam>
internal sealed class PrinterStates<TState>
    where TState : class, IPrinterState<TState>, new()
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly Dictionary<string, TState> _printers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TState> _staged = new(StringComparer.Ordinal);
    private readonly Action<TState>? _afterRestore;

    /// <param name="afterRestore">Repairs a restored state (for example members an older checkpoint lacks).</param>
    public PrinterStates(Action<TState>? afterRestore = null) => _afterRestore = afterRestore;

    /// <summary>The printer's working state for the message being processed: a copy until <see cref="Commit"/>.</summary>
    public TState Get(string printer)
    {
        if (_staged.TryGetValue(printer, out var staged))
        {
            return staged;
        }

        staged = _printers.TryGetValue(printer, out var committed) ? committed.Copy() : new TState();
        _staged.Add(printer, staged);
        return staged;
    }

    /// <summary>The committed state of <paramref name="printer"/>, or null (for inspection and tests).</summary>
    public TState? Committed(string printer) => _printers.GetValueOrDefault(printer);

    /// <summary>Makes the staged changes the state.</summary>
    public void Commit()
    {
        foreach (var (printer, state) in _staged)
        {
            _printers[printer] = state;
        }

        _staged.Clear();
    }

    /// <summary>Drops the staged changes.</summary>
    public void Discard() => _staged.Clear();

    /// <summary>For <see cref="ICheckpointableAdapter.SaveState"/>: the committed state only.</summary>
    public JsonNode? Save() => _printers.Count == 0 ? null : JsonSerializer.SerializeToNode(_printers, Json);

    /// <summary>For <see cref="ICheckpointableAdapter.RestoreState"/>.</summary>
    public void Restore(JsonNode state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var restored = state.Deserialize<Dictionary<string, TState>>(Json);
        _staged.Clear();
        _printers.Clear();
        foreach (var (printer, s) in restored ?? [])
        {
            _afterRestore?.Invoke(s);
            _printers[printer] = s;
        }
    }
}
