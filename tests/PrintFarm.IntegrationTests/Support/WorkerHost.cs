using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Mqtt;

namespace PrintFarm.IntegrationTests.Support;

/// <summary>
/// The real worker host, in-process, wired exactly as <c>Program.cs</c> wires it (<see cref="PrintFarmHostingExtensions.AddPrintFarmTelemetry"/>),
/// with test settings layered on top, a temp data folder, captured log lines and captured counters.
/// </summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0);

    private WorkerHost(IHost host, string dataFolder, CollectingLoggerProvider logs)
    {
        Host = host;
        DataFolder = dataFolder;
        Logs = logs;
        // Only this host's meter: other hosts (and writer harnesses) in the same test process use the same meter name.
        var meter = host.Services.GetRequiredService<Worker.Diagnostics.PrintFarmInstrumentation>().Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _counters.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
            foreach (var tag in tags)
            {
                _counters.AddOrUpdate($"{instrument.Name}[{tag.Key}={tag.Value}]", value, (_, v) => v + value);
            }

            _changed.Release();
        });
        _listener.Start();
    }

    public IHost Host { get; }

    public string DataFolder { get; }

    public CollectingLoggerProvider Logs { get; }

    /// <summary>A counter's total so far; <c>name[tag=value]</c> for one tag value.</summary>
    public long Counter(string name) => _counters.TryGetValue(name, out var v) ? v : 0;

    /// <summary>
    /// Waits, on a signal from the counters (no polling), until counter <paramref name="name"/> reaches
    /// <paramref name="value"/>; fails after <paramref name="timeout"/>.
    /// </summary>
    public async Task WaitForCounterAsync(string name, long value, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Counter(name) < value)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _changed.WaitAsync(left))
            {
                Assert.Fail($"Timed out after {timeout} waiting for {name} to reach {value}; it is {Counter(name)}");
            }
        }
    }

    /// <summary>Settings every test worker gets: the test broker, fast flushes, a temp data folder.</summary>
    public static Dictionary<string, string?> BaseSettings(MosquittoServer broker, string? dataFolder = null) => new()
    {
        ["PrintFarm:Farm"] = "test-farm",
        ["PrintFarm:Mqtt:Host"] = broker.Host,
        ["PrintFarm:Mqtt:Port"] = broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["PrintFarm:Mqtt:ClientId"] = "worker-" + Guid.NewGuid().ToString("N"),
        ["PrintFarm:Mqtt:ReconnectDelay"] = "00:00:00.2",
        ["PrintFarm:FlushInterval"] = "00:00:00.2",
        ["PrintFarm:Influx:BatchInterval"] = "00:00:00.1",
        ["PrintFarm:Influx:RetryDelay"] = "00:00:00.1",
        ["PrintFarm:Influx:MaxRetries"] = "1",
        ["PrintFarm:Influx:SpoolRetryInterval"] = "00:00:00.5",
        ["PrintFarm:DataFolder"] = dataFolder ?? ServerProcess.NewFolder("worker-data"),
        ["PrintFarm:Health:Port"] = "0", // a free port: tests run side by side
    };

    /// <summary>Starts the worker and waits until it has subscribed, so nothing published after this is missed.</summary>
    public static Task<WorkerHost> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? configure = null) =>
        StartAsync(settings, waitForSubscription: true, configure);

    /// <summary>Starts the worker; without waiting for the subscription when the test expects the connection to fail.</summary>
    public static async Task<WorkerHost> StartAsync(Dictionary<string, string?> settings, bool waitForSubscription, Action<IServiceCollection>? configure = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            EnvironmentName = "Test",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(settings);
        var logs = new CollectingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.AddPrintFarmTelemetry();
        configure?.Invoke(builder.Services);
        var host = builder.Build();
        var worker = new WorkerHost(host, settings["PrintFarm:DataFolder"]!, logs);
        await host.StartAsync();
        if (waitForSubscription)
        {
            var mqtt = host.Services.GetServices<IHostedService>().OfType<MqttIngestionService>().Single();
            await mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        }

        return worker;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            Host.Dispose();
            _listener.Dispose();
            _changed.Dispose();
        }
    }
}

/// <summary>Keeps every log line the worker writes, so tests can assert on what an operator would read.</summary>
public sealed class CollectingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Message)> Entries => _entries.ToArray();

    public IEnumerable<string> AtLeast(LogLevel level) => _entries.Where(e => e.Level >= level).Select(e => $"{e.Level} {e.Category}: {e.Message}");

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CollectingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception) + (exception is null ? string.Empty : " | " + exception.GetType().Name + ": " + exception.Message);
            owner._entries.Enqueue((logLevel, category, message));
        }
    }
}
