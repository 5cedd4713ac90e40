using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Jobs;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// <c>POST /labels/{printer}/{job id}</c> on the health listener: an operator's failure label, the same JSON body as on
/// the MQTT topic <c>{prefix}/{printer}/{job id}</c>. The request is journaled as a message of that topic, so it takes the
/// very path an MQTT label takes: applied in order by the one pipeline, replayed after a restart, and, when it names an
/// unknown job or is invalid, logged, counted and dead-lettered there. Answers 202 once the journal has it on disk, 400
/// (still journaled) when the body is not a valid label, 404 when labels are off, 503 in the clustered mode (publish to
/// the label subject there) or when the journal cannot take it.
/// </summary>
internal sealed class LabelEndpoint(IServiceProvider services, IOptions<PrintFarmOptions> options, TimeProvider time, ILogger<LabelEndpoint> logger)
{
    /// <summary>The path prefix.</summary>
    public const string PathPrefix = "/labels/";

    private static readonly TimeSpan JournalWait = TimeSpan.FromSeconds(10);
    private readonly PrintFarmOptions _options = options.Value;

    /// <summary>Handles one request whose path starts with <see cref="PathPrefix"/>.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!_options.Reasons.LabelsEnabled)
        {
            await AnswerAsync(context, StatusCodes.Status404NotFound, "labels are off (PrintFarm:Reasons:LabelsEnabled)").ConfigureAwait(false);
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await AnswerAsync(context, StatusCodes.Status405MethodNotAllowed, "POST a JSON body {\"reason\": \"clog\", \"note\": \"…\"}").ConfigureAwait(false);
            return;
        }

        // /labels/{printer}/{job id}: the printer is one segment, the job id the rest (decoded, as in the MQTT topic).
        var rest = request.Path.Value![PathPrefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1)
        {
            await AnswerAsync(context, StatusCodes.Status404NotFound, "the path is /labels/{printer}/{job id}").ConfigureAwait(false);
            return;
        }

        var printer = Uri.UnescapeDataString(rest[..slash]);
        var job = Uri.UnescapeDataString(rest[(slash + 1)..]);
        if (_options.Cluster.Enabled)
        {
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "clustered mode: publish the label to the printers' NATS subjects instead").ConfigureAwait(false);
            return;
        }

        var payload = await ReadBodyAsync(request, _options.MaxPayloadBytes, context.RequestAborted).ConfigureAwait(false);
        var topic = _options.Reasons.TopicPrefix.TrimEnd('/') + "/" + printer + "/" + job;
        if (payload is null)
        {
            await AnswerAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body is over {_options.MaxPayloadBytes} bytes (PrintFarm:MaxPayloadBytes)").ConfigureAwait(false);
            return;
        }

        var valid = ReasonTracker.TryRead(payload, out var label, out var problem);
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
            Log.LabelNotJournaled(logger, topic, ex.Message);
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the journal did not take the label: " + ex.Message).ConfigureAwait(false);
            return;
        }

        if (!valid)
        {
            Log.LabelInvalidOverHttp(logger, topic, problem!.Value.Detail);
            await AnswerAsync(context, StatusCodes.Status400BadRequest, $"{problem.Value.Reason}: {problem.Value.Detail}").ConfigureAwait(false);
            return;
        }

        Log.LabelReceivedOverHttp(logger, printer, job, FailureReasons.Name(label.Reason), topic);
        await AnswerAsync(context, StatusCodes.Status202Accepted, "journaled; applied in order with the printers' messages (a label for an unknown job is dead-lettered)", topic).ConfigureAwait(false);
    }

    // The body, or null when it is larger than the limit.
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
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

    private static async Task AnswerAsync(HttpContext context, int status, string message, string? topic = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(context.Response.Body, new { status = status < 300 ? "accepted" : "rejected", message, topic }, cancellationToken: context.RequestAborted).ConfigureAwait(false);
    }
}
