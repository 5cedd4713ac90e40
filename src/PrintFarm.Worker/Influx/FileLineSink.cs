namespace PrintFarm.Worker.Influx;

/// <summary>
/// Appends every batch to one line-protocol file, for when no InfluxDB is reachable (the demo). Import it later with
/// <c>influx write --bucket printfarm --precision ms --file {Path}</c> (InfluxDB 2) or, for 1.x, after a
/// <c># DML</c> / <c># CONTEXT-DATABASE: printfarm</c> header, <c>influx -import -path={Path} -precision=ms</c>.
/// </summary>
internal sealed class FileLineSink : ILineSink
{
    private readonly object _gate = new();

    public FileLineSink(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    public Task<WriteResult> WriteAsync(LineBuffer lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        try
        {
            lock (_gate)
            {
                using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
                file.Write(lines.Bytes);
            }

            return Task.FromResult(WriteResult.Ok);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Like a database outage: the writer retries and spools.
            return Task.FromResult(new WriteResult(WriteStatus.Transient, "file", ex.Message, null));
        }
    }
}
