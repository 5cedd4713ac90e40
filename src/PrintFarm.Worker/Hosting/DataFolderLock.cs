using System.Globalization;
using System.Text;

namespace PrintFarm.Worker.Hosting;

/// <summary>
/// An exclusive lock on the data folder for the life of the process, as PostgreSQL's <c>postmaster.pid</c> and Kafka's
/// <c>.lock</c> in each log dir: <c>{DataFolder}/worker.lock</c> is held open with <see cref="FileShare.None"/> (an
/// <c>flock</c> on Linux and macOS, released by the kernel when the process ends however it ends) and holds the pid.
/// A second worker on the same folder would append to and delete the same journal and checkpoint: it is refused.
/// </summary>
internal sealed class DataFolderLock : IDisposable
{
    /// <summary>The lock file's name in the data folder.</summary>
    public const string FileName = "worker.lock";

    private readonly FileStream _file;

    public DataFolderLock(DataFolders folders)
    {
        Directory.CreateDirectory(folders.Root);
        Path = System.IO.Path.Combine(folders.Root, FileName);
        try
        {
            _file = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException) when (File.Exists(Path))
        {
            var holder = DurableFiles.ReadIgnoringLocks(Path)?.Trim();
            var who = string.IsNullOrEmpty(holder) ? "another process" : "another process (pid " + holder + ")";
            throw new StartupRefusedException(
                $"The data folder {folders.Root} is in use by {who}: {Path} is locked. " +
                "Two workers on one folder would append to and delete the same journal and checkpoint. " +
                "Stop the other worker, or give this one its own folder (PrintFarm__DataFolder).");
        }

        var pid = Encoding.UTF8.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        _file.SetLength(0);
        _file.Write(pid);
        _file.Flush();
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    public void Dispose() => _file.Dispose();
}
