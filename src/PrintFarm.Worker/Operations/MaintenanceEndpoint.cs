using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Ingestion.Maintenance;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// <c>POST /maintenance/{printer}</c> on the health listener: the operator's maintenance switch, the body of the MQTT
/// maintenance topic (<c>{"maintenance": true|false, "ts": …}</c>) with <c>ts</c> optional (the worker's clock when
/// left out). The request is journaled as a message of that topic, so it takes the very path an MQTT switch takes:
/// applied in order by the one pipeline and replayed after a restart. Answers 202 once the journal has it on disk, 400
/// when the body is not a valid switch (journaled as sent, so the pipeline logs, counts and dead-letters it), 404 when
/// OEE is off, 503 in the clustered mode or when the journal cannot take it.
/// </summary>
internal sealed class MaintenanceEndpoint(IServiceProvider services, IOptions<PrintFarmOptions> options, TimeProvider time, ILogger<MaintenanceEndpoint> logger)
{
    /// <summary>The path prefix.</summary>
    public const string PathPrefix = "/maintenance/";

    private static readonly TimeSpan JournalWait = TimeSpan.FromSeconds(10);
    private readonly PrintFarmOptions _options = options.Value;

    /// <summary>Handles one request whose path starts with <see cref="PathPrefix"/>.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!_options.Oee.Enabled)
        {
            await AnswerAsync(context, StatusCodes.Status404NotFound, "printer time accounting is off (PrintFarm:Oee:Enabled)").ConfigureAwait(false);
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await AnswerAsync(context, StatusCodes.Status405MethodNotAllowed, "POST a JSON body {\"maintenance\": true} or {\"maintenance\": false}, optionally with \"ts\"").ConfigureAwait(false);
            return;
        }

        // /maintenance/{printer}: exactly one segment, decoded, as the printer level of the MQTT topic.
        var printer = Uri.UnescapeDataString(request.Path.Value![PathPrefix.Length..]);
        if (printer.Length == 0 || request.Path.Value.IndexOf('/', PathPrefix.Length) >= 0)
        {
            await AnswerAsync(context, StatusCodes.Status404NotFound, "the path is /maintenance/{printer}").ConfigureAwait(false);
            return;
        }

        if (printer.AsSpan().IndexOfAny("/+#") >= 0 || printer.Any(char.IsControl))
        {
            Log.MaintenanceRefusedOverHttp(logger, printer, "the printer id has '/', '+', '#' or a control character");
            await AnswerAsync(context, StatusCodes.Status400BadRequest, "a printer id cannot hold '/', '+', '#' or control characters (it is an MQTT topic level)").ConfigureAwait(false);
            return;
        }

        if (_options.Cluster.Enabled)
        {
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "clustered mode: send the switch on the maintenance topic instead").ConfigureAwait(false);
            return;
        }

        var body = await ReadBodyAsync(request, _options.MaxPayloadBytes, context.RequestAborted).ConfigureAwait(false);
        var topic = _options.Oee.MaintenanceTopic.Replace("{printer}", printer, StringComparison.Ordinal);
        if (body is null)
        {
            await AnswerAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body is over {_options.MaxPayloadBytes} bytes (PrintFarm:MaxPayloadBytes)").ConfigureAwait(false);
            return;
        }

        // A valid switch without a time happens now, by the worker's clock: the time is written into the journaled
        // body, so a replay after a restart applies it at the same instant. An invalid body is journaled as sent.
        var problem = MaintenanceAdapter.TryRead(body, out var on, out var at);
        var payload = body;
        if (problem is null && at is null)
        {
            at = time.GetUtcNow();
            payload = JsonSerializer.SerializeToUtf8Bytes(new { maintenance = on, ts = at.Value.ToString("O", System.Globalization.CultureInfo.InvariantCulture) });
        }

        var journaled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var journal = services.GetRequiredService<MessageJournal>();
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            wait.CancelAfter(JournalWait);
            await journal.AppendAsync(new JournalEntry(topic, payload, Retained: false, QoS: 1, time.GetUtcNow(), _ => { journaled.TrySetResult(); return Task.CompletedTask; }), wait.Token).ConfigureAwait(false);
            await journaled.Task.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            Log.MaintenanceNotJournaled(logger, topic, ex.Message);
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the journal did not take the switch: " + ex.Message).ConfigureAwait(false);
            return;
        }

        if (problem is { } rejected)
        {
            Log.MaintenanceRefusedOverHttp(logger, printer, rejected.Detail ?? rejected.Reason ?? "invalid");
            await AnswerAsync(context, StatusCodes.Status400BadRequest, $"{rejected.Reason}: {rejected.Detail}", topic).ConfigureAwait(false);
            return;
        }

        Log.MaintenanceReceivedOverHttp(logger, printer, on, at!.Value, topic);
        await AnswerAsync(context, StatusCodes.Status202Accepted, on ? "journaled: in maintenance from ts" : "journaled: out of maintenance from ts", topic, at).ConfigureAwait(false);
    }

    // The body, or null when it is larger than the limit.
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static async Task AnswerAsync(HttpContext context, int status, string message, string? topic = null, DateTimeOffset? ts = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(context.Response.Body, new { status = status < 300 ? "accepted" : "rejected", message, topic, ts }, cancellationToken: context.RequestAborted).ConfigureAwait(false);
    }
}
