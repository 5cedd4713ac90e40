using System.Runtime.InteropServices;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>POSIX signals the tests send to the processes they own (.NET's <c>Process.Kill</c> only sends SIGKILL).</summary>
internal static class Signals
{
    private const int SigTerm = 15;
    private const int SigCont = 18; // Linux numbering (x86-64 and arm64)
    private const int SigStop = 19;

    /// <summary>Asks a process to stop gracefully, as <c>kill -TERM</c> (or <c>docker stop</c>, or systemd) would.</summary>
    public static void Terminate(int pid)
    {
        if (kill(pid, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Freezes a process (SIGSTOP): it keeps its sockets but answers nothing, as a machine cut off or swapping would.</summary>
    public static void Pause(int pid) => Send(pid, SigStop, "SIGSTOP");

    /// <summary>Lets a process frozen by <see cref="Pause"/> run again (SIGCONT).</summary>
    public static void Resume(int pid) => Send(pid, SigCont, "SIGCONT");

    private static void Send(int pid, int signal, string name)
    {
        if (kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {name}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
