using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;

namespace PrintFarm.Worker.Hosting;

/// <summary>The worker's folders on disk, resolved once from <see cref="PrintFarmOptions.DataFolder"/>.</summary>
internal sealed class DataFolders
{
    public DataFolders(IOptions<PrintFarmOptions> options)
    {
        // Relative to the working folder, as a path on the command line is (the content root is the worker's own folder).
        Root = Path.GetFullPath(options.Value.DataFolder);
        DeadLetters = Path.Combine(Root, "deadletter");
        Spool = Path.Combine(Root, "spool");
        Checkpoint = Path.Combine(Root, "checkpoint");
        Journal = Path.Combine(Root, "journal");
    }

    /// <summary>
    /// The default data folder: the user's state folder (XDG base directories on Linux and macOS, local application data
    /// on Windows), so running from a source checkout leaves nothing in it.
    /// </summary>
    public static string DefaultRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "PrintFarm");
        }

        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrWhiteSpace(state) || !Path.IsPathRooted(state))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            state = Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".local", "state");
        }

        return Path.Combine(state, "printfarm");
    }

    /// <summary>The data folder.</summary>
    public string Root { get; }

    /// <summary>Rejected messages and refused batches.</summary>
    public string DeadLetters { get; }

    /// <summary>Batches waiting for InfluxDB.</summary>
    public string Spool { get; }

    /// <summary>The processor's checkpoint.</summary>
    public string Checkpoint { get; }

    /// <summary>The write-ahead journal of received messages.</summary>
    public string Journal { get; }
}
