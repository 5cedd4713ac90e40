using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PrintFarm.Worker.Hosting;

/// <summary>
/// What .NET's file API cannot do on Linux and macOS: fsync a folder (.NET refuses to open one) and read a file that
/// another process holds with <see cref="FileShare.None"/> (.NET emulates that with <c>flock</c> and takes a shared
/// lock on every open, so even a read fails). Both go through libc <c>open</c>.
/// </summary>
internal static partial class DurableFiles
{
    private const int ReadOnly = 0; // O_RDONLY, the same on every POSIX system

    /// <summary>
    /// Renames <paramref name="from"/> over <paramref name="to"/> and makes the rename durable: the file's data was
    /// already fsynced by the caller; the folder is fsynced after the rename, as PostgreSQL's <c>durable_rename</c>
    /// does. Without it a power loss can bring the old name back after the caller acted on the new one.
    /// </summary>
    public static void Rename(string from, string to, bool overwrite)
    {
        File.Move(from, to, overwrite);
        FlushFolder(Path.GetDirectoryName(Path.GetFullPath(to))!);
    }

    /// <summary>Writes a folder's entries (creations, renames, deletions) to disk. Nothing to do on Windows (NTFS journals them).</summary>
    public static void FlushFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var handle = OpenRaw(folder);
        if (fsync(handle) != 0)
        {
            throw new IOException($"fsync of the folder {folder} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>Reads a small file as text whatever lock another process holds on it; null if it cannot be read.</summary>
    public static string? ReadIgnoringLocks(string path)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                using var shared = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                return new StreamReader(shared).ReadToEnd();
            }

            using var handle = OpenRaw(path);
            var buffer = new byte[4096];
            var read = RandomAccess.Read(handle, buffer, 0);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static SafeFileHandle OpenRaw(string path)
    {
        var fd = open(path, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"open {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int fsync(SafeFileHandle fd);
}
