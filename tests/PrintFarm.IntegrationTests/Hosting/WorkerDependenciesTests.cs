namespace PrintFarm.IntegrationTests.Hosting;

/// <summary>
/// The official InfluxDB.Client serves the setup command only (src/PrintFarm.Setup): the worker neither references
/// nor ships it, so its process can never load it (issue 19; why: docs/benchmarks.md, "InfluxDB.Client").
/// </summary>
public sealed class WorkerDependenciesTests
{
    [Fact]
    public void The_worker_does_not_reference_or_ship_InfluxDB_Client()
    {
        var worker = typeof(PrintFarm.Worker.Hosting.PrintFarmHostingExtensions).Assembly;
        Assert.DoesNotContain(worker.GetReferencedAssemblies(), a => a.Name!.StartsWith("InfluxDB.Client", StringComparison.OrdinalIgnoreCase));
        var deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PrintFarm.Worker.deps.json"));
        Assert.Contains("Spectre.Console", deps, StringComparison.Ordinal); // the file lists the worker's packages
        Assert.DoesNotContain("InfluxDB.Client", deps, StringComparison.OrdinalIgnoreCase);
    }
}
