using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// Where a server's Debian package is not installed but a Docker engine is reachable (a developer laptop without
/// apt), the fixtures start the same server from its official image with Testcontainers instead. CI and the
/// project's own machines install the packages (<c>./build.sh test</c>), so they never take this path.
/// </summary>
internal static class ContainerFallback
{
    /// <summary>Whether a Docker engine looks reachable (a socket, or <c>DOCKER_HOST</c>).</summary>
    public static bool DockerAvailable =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST")) || File.Exists("/var/run/docker.sock");

    /// <summary>
    /// Starts <paramref name="image"/> with <paramref name="containerPort"/> published (on <paramref name="hostPort"/>
    /// when given, else a free one) and waits until <paramref name="isReady"/> accepts the published port.
    /// </summary>
    public static async Task<(IContainer Container, string Host, int Port)> StartAsync(
        string image,
        int containerPort,
        int? hostPort,
        IReadOnlyList<string> command,
        IReadOnlyDictionary<string, string> environment,
        Func<string, int, Task<bool>> isReady)
    {
        var builder = new ContainerBuilder(image)
            .WithCleanUp(true)
            .WithEnvironment(environment);
        builder = hostPort is { } fixedPort ? builder.WithPortBinding(fixedPort, containerPort) : builder.WithPortBinding(containerPort, assignRandomHostPort: true);
        if (command.Count > 0)
        {
            builder = builder.WithCommand([.. command]);
        }

        var container = builder.Build();
        await container.StartAsync();
        var host = container.Hostname;
        var port = container.GetMappedPublicPort(containerPort);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await isReady(host, port))
                {
                    return (container, host, port);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or System.Net.Sockets.SocketException or IOException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(Eventually.PollInterval);
        }

        await container.DisposeAsync();
        throw new TimeoutException($"{image} was not ready within 90 s");
    }

    /// <summary>The error for a server that can be started neither way.</summary>
    public static InvalidOperationException Missing(string executable, string package) =>
        new($"{executable} is not installed and no Docker engine is reachable: run ./build.sh test, which installs it (apt-get install {package})");
}
