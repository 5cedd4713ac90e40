namespace PrintFarm.Worker.Reporting;

/// <summary>One point as the worker wrote it: read back from line protocol (the demo) or from InfluxDB (<c>kpis</c>).</summary>
internal sealed record LinePoint(string Measurement, Dictionary<string, string> Tags, Dictionary<string, object> Fields, long TimestampMs)
{
    public string Tag(string name) => Tags.TryGetValue(name, out var v) ? v : string.Empty;

    public double? Number(string name) => Fields.TryGetValue(name, out var v) && v is double d ? d : null;

    public string? Text(string name) => Fields.TryGetValue(name, out var v) ? v as string : null;
}
