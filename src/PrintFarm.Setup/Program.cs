using PrintFarm.Setup;

// ./build.sh setup: makes an InfluxDB 2.x ready for the worker (onboarding, org, bucket, token, DBRP mapping).
SetupCommand command;
try
{
    command = SetupCommand.Parse(args, Environment.GetEnvironmentVariable);
}
catch (FormatException ex)
{
    Console.Error.WriteLine($"setup: {ex.Message}");
    Console.Error.WriteLine(SetupCommand.Usage);
    return SetupCommand.BadArguments;
}

if (command.Help)
{
    Console.WriteLine(SetupCommand.Usage);
    return 0;
}

return await command.RunAsync(Console.Out, Console.Error, CancellationToken.None);
