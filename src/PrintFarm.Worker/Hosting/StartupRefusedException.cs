namespace PrintFarm.Worker.Hosting;

/// <summary>
/// The worker will not start, for a reason the operator must act on (the message says what and how): <c>Program.cs</c>
/// prints the message as one line and exits with code 2, as for an invalid setting.
/// </summary>
internal sealed class StartupRefusedException(string message) : Exception(message);
