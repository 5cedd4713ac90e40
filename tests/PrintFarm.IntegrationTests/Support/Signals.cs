using System.Runtime.InteropServices;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>POSIX signals the tests send to the processes they own (.NET's <c>Process.Kill</c> only sends SIGKILL).</summary>
internal static class Signals
{
    private const int SigTerm = 15;

    /// <summary>Asks a process to stop gracefully, as <c>kill -TERM</c> (or <c>docker stop</c>, or systemd) would.</summary>
    public static void Terminate(int pid)
    {
        if (kill(pid, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
