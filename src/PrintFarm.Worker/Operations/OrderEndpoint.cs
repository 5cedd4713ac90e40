using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Orders;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Journal;

namespace PrintFarm.Worker.Operations;

/// <summary>
/// Orders over HTTP on the health endpoints' listener: <c>PUT</c> or <c>POST /orders/{id}</c> with the order's JSON
/// (docs/schema/order.schema.json), <c>DELETE /orders/{id}</c> to withdraw it. The request becomes the message an MQTT
/// client would publish on <c>{TopicPrefix}/{id}</c> and is journaled as one, so it takes the same path: the same
/// validation in the processor, the same effect on the order book, and a bad order the same log line, counter and
/// dead-letter copy. The caller is answered once the journal has it on disk: 202 when the order is valid, 400 (with
/// the reason) when it is not, 413 when it is over <c>MaxPayloadBytes</c>, 503 when it could not be journaled.
/// </summary>
internal sealed class OrderEndpoint(MessageJournal journal, IOptions<PrintFarmOptions> options, PrintFarmInstrumentation metrics, TimeProvider time, ILogger<OrderEndpoint> logger)
{
    /// <summary>Requests under this path are orders.</summary>
    public const string PathPrefix = "/orders/";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private static readonly TimeSpan JournalTimeout = TimeSpan.FromSeconds(30);
    private readonly PrintFarmOptions _options = options.Value;
    private readonly LogThrottle _throttle = new(time, TimeSpan.FromMinutes(1));

    /// <summary>True when <paramref name="path"/> is an order request.</summary>
    public static bool Handles(PathString path) => path.Value?.StartsWith(PathPrefix, StringComparison.Ordinal) == true;

    /// <summary>Answers one order request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var method = request.Method;
        var withdraw = HttpMethods.IsDelete(method);
        if (!_options.Orders.Enabled || !(withdraw || HttpMethods.IsPut(method) || HttpMethods.IsPost(method)))
        {
            context.Response.StatusCode = _options.Orders.Enabled ? StatusCodes.Status405MethodNotAllowed : StatusCodes.Status404NotFound;
            return;
        }

        // Path.Value is already unescaped, except %2F: an id is one topic level, so neither may hold a slash.
        var id = request.Path.Value![PathPrefix.Length..];
        if (id.Length == 0 || id.Length > 128 || id.Contains('/', StringComparison.Ordinal) || id.Contains("%2F", StringComparison.OrdinalIgnoreCase)
            || id.AsSpan().IndexOfAny('+', '#') >= 0 || id.Any(char.IsControl))
        {
            // Nothing to journal: no topic could be made of it.
            metrics.OrderRequests.Add(1, new KeyValuePair<string, object?>("result", "rejected"));
            await AnswerAsync(context, StatusCodes.Status400BadRequest, new { id, accepted = false, reason = RejectReasons.UnknownTopic, detail = "the order id is one MQTT topic level: 1 to 128 characters, no '/', '+', '#' or control characters" }).ConfigureAwait(false);
            return;
        }

        if (_options.Cluster.Enabled)
        {
            // In the clustered mode messages are read from JetStream, not from this worker's journal.
            metrics.OrderRequests.Add(1, new KeyValuePair<string, object?>("result", "unavailable"));
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, new { id, accepted = false, detail = "in the clustered mode orders are published over MQTT only" }).ConfigureAwait(false);
            return;
        }

        var topic = _options.Orders.TopicPrefix.TrimEnd('/') + "/" + id;
        var receivedAt = time.GetUtcNow();
        var (payload, oversize) = withdraw ? ([], 0) : await ReadBodyAsync(request, _options.MaxPayloadBytes, context.RequestAborted).ConfigureAwait(false);
        var check = oversize > 0
            ? AdapterResult.Rejected(RejectReasons.Oversize, $"{oversize} bytes, over PrintFarm:MaxPayloadBytes ({_options.MaxPayloadBytes})")
            : OrderBook.Check(id, payload, receivedAt);

        // Journaled whatever the check says: a bad order is dead-lettered by the pipeline, exactly as from MQTT.
        var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(JournalTimeout);
            await journal.AppendAsync(
                new JournalEntry(topic, payload, Retained: true, QoS: 1, receivedAt, _ => { durable.TrySetResult(); return Task.CompletedTask; }, oversize),
                timeout.Token).ConfigureAwait(false);
            await durable.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            Log.OrderHttpNotJournaled(logger, id, method, ex is OperationCanceledException ? "the journal did not take it in time" : ex.Message);
            metrics.OrderRequests.Add(1, new KeyValuePair<string, object?>("result", "unavailable"));
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, new { id, accepted = false, detail = "not journaled; send it again" }).ConfigureAwait(false);
            return;
        }

        if (check.Accepted)
        {
            Log.OrderHttpAccepted(logger, id, method, topic);
            metrics.OrderRequests.Add(1, new KeyValuePair<string, object?>("result", "accepted"));
            await AnswerAsync(context, StatusCodes.Status202Accepted, new { id, accepted = true, topic, withdrawn = withdraw }).ConfigureAwait(false);
            return;
        }

        if (_throttle.ShouldLog(check.Reason!, out var suppressed))
        {
            Log.OrderHttpRejected(logger, id, method, topic, check.Reason!, check.Detail ?? string.Empty, suppressed);
        }

        metrics.OrderRequests.Add(1, new KeyValuePair<string, object?>("result", oversize > 0 ? "oversize" : "rejected"));
        await AnswerAsync(context, oversize > 0 ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest, new { id, accepted = false, reason = check.Reason, detail = check.Detail, topic }).ConfigureAwait(false);
    }

    // The body, or only its size when it is over the limit (the rest is read and thrown away, never held).
    private static async Task<(byte[] Payload, long Oversize)> ReadBodyAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        long total = 0;
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
            if (total <= max)
            {
                buffer.Write(chunk, 0, read);
            }
        }

        return total > max ? ([], total) : (buffer.ToArray(), 0);
    }

    private static async Task AnswerAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, Json, context.RequestAborted).ConfigureAwait(false);
    }
}
