using System.Diagnostics;
using System.Globalization;
using PrintFarm.IntegrationTests.Support;
using Xunit.Abstractions;

namespace PrintFarm.IntegrationTests.Reliability;

/// <summary>
/// Issue 18, item 5, as the issue reproduced it: the worker as a process with its data folder on a small tmpfs, a real
/// Mosquitto and InfluxDB, 30 junk payloads of 200 KB over QoS 1 (each dead-lettered), then 10 jobs. Before the dead
/// letters' budget and the disk reserves the junk filled the disk, no checkpoint could be written, no segment was
/// freed, and none of the 10 jobs arrived. Needs permission to mount a tmpfs (root on this machine); where the machine
/// refuses the mount the test says so in its output and checks nothing.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class FullDiskProcessTests(ServicesFixture services, ITestOutputHelper output)
{
    private const long DiskBytes = 8L << 20;

    [Fact]
    public async Task On_a_small_disk_junk_cannot_fill_it_and_the_jobs_after_it_all_arrive()
    {
        using var disk = SmallDisk.TryMount(DiskBytes, out var refused);
        if (disk is null)
        {
            output.WriteLine($"not run: cannot mount a {DiskBytes >> 20} MiB tmpfs here ({refused})");
            return;
        }

        var id = Guid.NewGuid().ToString("N")[..6];
        await using var broker = await MosquittoServer.StartShippedAsync();
        var database = await ChaosChecks.NewDatabaseAsync(services.Influx, "fulldisk");
        var settings = WorkerProcess.Settings(broker, services.Influx.Url, database, "chaos-fulldisk-" + id);
        settings["PrintFarm__DataFolder"] = Path.Combine(disk.Folder, "data");
        settings["PrintFarm__Journal__SegmentBytes"] = "262144";
        settings["PrintFarm__Journal__MaxBytes"] = (262144 + (4 << 20)).ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm__Journal__DiskReserveBytes"] = (1 << 20).ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm__DeadLetterMaxBytes"] = (1 << 20).ToString(CultureInfo.InvariantCulture);
        settings["PrintFarm__DeadLetterDiskReserveBytes"] = (1 << 20).ToString(CultureInfo.InvariantCulture);
        await using var worker = await WorkerProcess.StartAsync(settings);

        await using (var printers = await TestPublisher.ConnectAsync(broker))
        {
            // 30 × 200 KB of junk: more than the disk's room for the journal and the dead letters together.
            var junk = new byte[200 * 1024];
            new Random(18).NextBytes(junk);
            for (var i = 0; i < 30; i++)
            {
                await printers.PublishAsync($"printfarm/junk-{id}/event", junk);
            }

            // Then 10 jobs on another printer.
            var start = DateTimeOffset.UtcNow.AddHours(-2);
            for (var j = 0; j < 10; j++)
            {
                var at = start.AddMinutes(j * 10);
                await printers.PublishJsonAsync($"printfarm/p-{id}/event", new { type = "job_started", ts = at.ToString("O", CultureInfo.InvariantCulture), job_id = $"J{j}", file = "owl.gcode" });
                await printers.PublishJsonAsync($"printfarm/p-{id}/event", new { type = "job_finished", ts = at.AddMinutes(5).ToString("O", CultureInfo.InvariantCulture), job_id = $"J{j}", file = "owl.gcode", outcome = "completed", filament_g = 10 });
            }
        }

        try
        {
            await Eventually.Until(
                () => services.Influx.QueryAsync(database, "SELECT count(\"print_time_s\") FROM job"),
                rows => rows.Count == 1 && rows[0].Number("count") == 10,
                "all 10 jobs after the junk in InfluxDB",
                TimeSpan.FromSeconds(90),
                rows => rows.Format() + "\n" + worker.Output);

            // The dead letters stayed in their budget, the rest of the junk was refused loudly, and the disk kept its
            // reserve: at least the journal's reserve is free.
            var deadLetters = Directory.GetFiles(Path.Combine(disk.Folder, "data", "deadletter"));
            Assert.InRange(deadLetters.Sum(f => new FileInfo(f).Length), 1, 1 << 20);
            Assert.NotEmpty(worker.LinesContaining("not written"));
            Assert.True(new DriveInfo(disk.Folder).AvailableFreeSpace >= 1 << 20, $"{new DriveInfo(disk.Folder).AvailableFreeSpace} bytes free");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\n--- worker ---\n{worker.Output}");
        }
    }

    // A tmpfs of a given size mounted on a temp folder, unmounted and removed on dispose.
    private sealed class SmallDisk : IDisposable
    {
        private SmallDisk(string folder) => Folder = folder;

        public string Folder { get; }

        public static SmallDisk? TryMount(long bytes, out string refused)
        {
            var folder = ServerProcess.NewFolder("tmpfs");
            var (code, text) = Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", folder);
            refused = text;
            if (code == 0)
            {
                return new SmallDisk(folder);
            }

            Directory.Delete(folder);
            return null;
        }

        public void Dispose()
        {
            Run("umount", "-l", Folder);
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (IOException)
            {
                // Still busy: the temp folder is cleaned up with the others.
            }
        }

        private static (int Code, string Output) Run(string file, params string[] args)
        {
            try
            {
                var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (var a in args)
                {
                    info.ArgumentList.Add(a);
                }

                using var process = Process.Start(info)!;
                var text = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                return (process.ExitCode, text.Trim());
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return (-1, ex.Message);
            }
        }
    }
}
