using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// A small HTTP listener (Kestrel, nothing else) serving <c>/healthz</c> (liveness) and <c>/readyz</c> (readiness) as
/// JSON from the worker's <see cref="HealthCheckService"/>: 200 when healthy, 503 otherwise. Loopback by default.
/// A port that cannot be bound is logged; the worker keeps ingesting.
/// </summary>
internal sealed class HealthEndpointService(HealthCheckService health, IOptions<PrintFarmOptions> options, ILogger<HealthEndpointService> logger, LabelEndpoint labels, OrderEndpoint orders, MaintenanceEndpoint maintenance) : IHostedService, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly HealthOptions _options = options.Value.Health;
    private WebApplication? _app;

    /// <summary>The bound address (<c>http://127.0.0.1:8080</c>), once started.</summary>
    public Uri? Url { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            // An empty builder: no configuration sources, no logging providers, no default middleware.
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
            {
                if (_options.Address is "*" or "0.0.0.0")
                {
                    k.ListenAnyIP(_options.Port);
                }
                else if (_options.Address == "localhost")
                {
                    k.ListenLocalhost(_options.Port);
                }
                else
                {
                    k.Listen(IPAddress.Parse(_options.Address), _options.Port);
                }
            });
            var app = builder.Build();
            app.Run(HandleAsync);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            _app = app;
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            Url = address is null ? null : new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
            Log.HealthListening(logger, address ?? $"{_options.Address}:{_options.Port}");
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            Log.HealthFailed(logger, _options.Address, _options.Port, ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        // Operator failure labels (docs/operations.md, "Labelling why a print failed").
        if (context.Request.Path.Value?.StartsWith(LabelEndpoint.PathPrefix, StringComparison.Ordinal) == true)
        {
            await labels.HandleAsync(context).ConfigureAwait(false);
            return;
        }

        // The maintenance switch (docs/operations.md, "Maintenance over HTTP").
        if (context.Request.Path.Value?.StartsWith(MaintenanceEndpoint.PathPrefix, StringComparison.Ordinal) == true)
        {
            await maintenance.HandleAsync(context).ConfigureAwait(false);
            return;
        }

        // Orders (docs/operations.md, "Orders").
        if (OrderEndpoint.Handles(context.Request.Path))
        {
            await orders.HandleAsync(context).ConfigureAwait(false);
            return;
        }

        var tag = context.Request.Path.Value switch
        {
            "/healthz" => HealthTags.Live,
            "/readyz" => HealthTags.Ready,
            _ => null,
        };
        if (tag is null || !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var report = await health.CheckHealthAsync(r => r.Tags.Contains(tag), context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = report.Status == HealthStatus.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
        };
        await JsonSerializer.SerializeAsync(context.Response.Body, body, Json, context.RequestAborted).ConfigureAwait(false);
    }
}
