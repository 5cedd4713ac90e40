using PrintFarm.Demo;

// ./build.sh demo: the embedded broker, a simulated farm and the worker in one process, with a live board.
DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (FormatException ex)
{
    Console.Error.WriteLine($"demo: {ex.Message}");
    Console.Error.WriteLine(DemoOptions.Usage);
    return 64;
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl-C stops cleanly (final flush and table); a second one ends the process.
    if (!stop.IsCancellationRequested)
    {
        e.Cancel = true;
        stop.Cancel();
    }
};

using var app = new DemoApp(options);
try
{
    return await app.RunAsync(stop.Token);
}
catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException or TimeoutException)
{
    // A port taken by another broker, an unwritable data folder: one line, not a stack trace.
    Console.Error.WriteLine($"demo: {ex.Message}");
    return 1;
}
