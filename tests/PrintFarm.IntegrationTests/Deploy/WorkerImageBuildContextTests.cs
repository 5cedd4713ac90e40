using System.Diagnostics;
using System.Text.RegularExpressions;
using PrintFarm.IntegrationTests.Grafana;

namespace PrintFarm.IntegrationTests.Deploy;

/// <summary>
/// The worker image builds from what its Dockerfile copies and nothing else (issue 19: the csproj linked
/// deploy/worker/runtime.env, which the build stage did not copy, and the publish failed with MSB3030). No Docker
/// engine is needed: the build stage's COPY sources are copied into an empty folder and its restore and publish steps
/// run there.
/// </summary>
public sealed partial class WorkerImageBuildContextTests
{
    [Fact]
    public async Task The_dockerfile_publish_step_succeeds_on_a_copy_of_exactly_what_it_copies()
    {
        var root = GrafanaFiles.RepoRoot;
        var dockerfile = await File.ReadAllLinesAsync(Path.Combine(root, "deploy", "worker", "Dockerfile"));
        var context = Directory.CreateTempSubdirectory("printfarm-image-").FullName;
        try
        {
            var runs = new List<string>();
            foreach (var line in dockerfile.Select(l => l.Trim()))
            {
                if (line.StartsWith("FROM ", StringComparison.Ordinal) && runs.Count > 0)
                {
                    break; // the build stage ends here; the runtime stage copies from it, not from the context
                }

                var copy = Copy().Match(line);
                if (copy.Success)
                {
                    var parts = copy.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var destination = parts[^1];
                    foreach (var source in parts[..^1])
                    {
                        CopyInto(Path.Combine(root, source), Path.Combine(context, destination.TrimStart('.', '/')), destination);
                    }
                }
                else if (line.StartsWith("RUN dotnet ", StringComparison.Ordinal))
                {
                    runs.Add(line["RUN dotnet ".Length..].Replace("/app", Path.Combine(context, "app-out"), StringComparison.Ordinal));
                }
            }

            Assert.Contains(runs, r => r.StartsWith("publish ", StringComparison.Ordinal));
            foreach (var run in runs)
            {
                var (exit, output) = await DotnetAsync(context, run);
                Assert.True(exit == 0, $"dotnet {run} failed in the image's build context:\n{output}");
            }

            Assert.True(File.Exists(Path.Combine(context, "app-out", "PrintFarm.Worker.dll")));
            Assert.True(File.Exists(Path.Combine(context, "app-out", "runtime.env")));
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    private static void CopyInto(string source, string destination, string spelledDestination)
    {
        if (Directory.Exists(source))
        {
            foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(source, file);
                // bin/obj of a developer's tree are not in the context (.dockerignore) and must not help the build.
                if (relative.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
                {
                    continue;
                }

                var target = Path.Combine(destination, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
            }

            return;
        }

        // A destination ending in '/' (or the working directory itself) is a folder; anything else names the file.
        var to = spelledDestination.EndsWith('/') ? Path.Combine(destination, Path.GetFileName(source)) : destination;
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(source, to, overwrite: true);
    }

    private static async Task<(int Exit, string Output)> DotnetAsync(string workingDirectory, string arguments)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"^COPY\s+(?!--from)(?<args>.+)$")]
    private static partial Regex Copy();
}
