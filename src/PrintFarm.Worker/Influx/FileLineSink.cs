using System.Text;

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

    public Task<WriteResult> WriteAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        try
        {
            lock (_gate)
            {
                File.AppendAllText(Path, text.ToString(), Encoding.UTF8);
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
