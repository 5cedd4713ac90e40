using System.Text;

namespace PrintFarm.Core.Tests.Support;

/// <summary>The realistic native payloads under <c>Fixtures/native/</c>, one per message type.</summary>
internal static class NativeFixtures
{
    public const string JobStarted = "job_started";
    public const string JobProgress = "job_progress";
    public const string JobFinished = "job_finished";
    public const string Status = "status";

    public static IReadOnlyList<string> All { get; } = [JobStarted, JobProgress, JobFinished, Status];

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "native", name + ".json"));

    public static string Text(string name) => Encoding.UTF8.GetString(Bytes(name));
}
