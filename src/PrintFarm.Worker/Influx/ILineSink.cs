namespace PrintFarm.Worker.Influx;

/// <summary>
/// Where the writer sends batches of line protocol: InfluxDB over HTTP (<see cref="InfluxWriteClient"/>) or a file
/// that <c>influx write</c> can import later (<see cref="FileLineSink"/>). The writer's batching, retries, spool and
/// dead letters work the same for both.
/// </summary>
internal interface ILineSink
{
    /// <summary>Writes one batch; never throws for I/O problems, it classifies them. The caller keeps the buffer.</summary>
    Task<WriteResult> WriteAsync(LineBuffer lines, CancellationToken cancellationToken);
}
