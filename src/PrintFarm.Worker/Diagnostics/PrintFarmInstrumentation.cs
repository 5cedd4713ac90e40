using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PrintFarm.Worker.Diagnostics;

/// <summary>
/// The worker's one <see cref="Meter"/> and <see cref="ActivitySource"/>, with every instrument. Tags are low-cardinality
/// only (reason, outcome, status): never a printer, job or topic.
/// </summary>
public sealed class PrintFarmInstrumentation : IDisposable
{
    /// <summary>Meter and activity source name; add it to an OpenTelemetry pipeline to export these.</summary>
    public const string Name = "PrintFarm.Telemetry";

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public PrintFarmInstrumentation(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(Name);
        ActivitySource = new ActivitySource(Name);
        MessagesReceived = Meter.CreateCounter<long>("printfarm.mqtt.messages.received", "{message}", "MQTT messages received.");
        MessagesRejected = Meter.CreateCounter<long>("printfarm.messages.rejected", "{message}", "Messages dead-lettered, by reason.");
        MqttConnects = Meter.CreateCounter<long>("printfarm.mqtt.connects", "{connect}", "MQTT connection attempts, by result.");
        JobsEnded = Meter.CreateCounter<long>("printfarm.jobs.ended", "{job}", "Jobs ended, by outcome.");
        LateJobs = Meter.CreateCounter<long>("printfarm.kpi.late_events", "{job}", "Jobs that ended after their KPI window closed.");
        PointsWritten = Meter.CreateCounter<long>("printfarm.influx.points.written", "{point}", "Points accepted by InfluxDB.");
        PointsRejected = Meter.CreateCounter<long>("printfarm.influx.points.rejected", "{point}", "Points InfluxDB rejected as bad data (dead-lettered).");
        WriteFailures = Meter.CreateCounter<long>("printfarm.influx.write.failures", "{request}", "Failed write requests, by status.");
        PointsSpooled = Meter.CreateCounter<long>("printfarm.influx.points.spooled", "{point}", "Points kept in the disk spool while InfluxDB was unavailable.");
        PointsDroppedSpoolFull = Meter.CreateCounter<long>("printfarm.influx.points.dropped", "{point}", "Points dropped because the spool reached its size limit.");
        DeadLetterFailures = Meter.CreateCounter<long>("printfarm.deadletter.failures", "{message}", "Messages that could not be written to the dead-letter store.");
        DeadLettersReplaySkipped = Meter.CreateCounter<long>("printfarm.deadletter.replay_skipped", "{message}", "Dead letters not written again because a journal replay after a restart met a message already kept.");
        MqttOversizeSkippedBytes = Meter.CreateCounter<long>("printfarm.mqtt.oversize.skipped_bytes", "By", "Payload bytes of oversize messages skipped on the socket (only their metadata is journaled and dead-lettered).");
        DeadLettersRefused = Meter.CreateCounter<long>("printfarm.deadletter.refused", "{message}", "Dead letters not written because of the byte budget or the disk reserve, by cause.");
        JournalAppended = Meter.CreateCounter<long>("printfarm.journal.appended", "{message}", "Messages made durable in the journal.");
        JournalCommits = Meter.CreateCounter<long>("printfarm.journal.commits", "{commit}", "Group commits (one fsync each) of the journal.");
        JournalFailures = Meter.CreateCounter<long>("printfarm.journal.failures", "{commit}", "Journal group commits that failed and were retried.");
        JournalAckFailures = Meter.CreateCounter<long>("printfarm.journal.ack_failures", "{message}", "Acknowledgements that could not be sent (the broker redelivers those messages).");
        MessagesDroppedJournalFull = Meter.CreateCounter<long>("printfarm.journal.qos0_dropped", "{message}", "QoS 0 messages dropped because the journal reached its size limit.");
        JournalCorruptBytes = Meter.CreateCounter<long>("printfarm.journal.corrupt_bytes", "By", "Durable journal bytes skipped because they failed their checksum.");
        SpoolFailures = Meter.CreateCounter<long>("printfarm.influx.spool.failures", "{batch}", "Attempts to spool a batch that failed (the batch is held and retried).");
        LoopFailures = Meter.CreateCounter<long>("printfarm.loop.failures", "{pass}", "Background loop passes that failed and were retried, by loop.");
        CheckpointDuration = Meter.CreateHistogram<double>("printfarm.checkpoint.duration", "s", "Time to take a checkpoint snapshot (under the pipeline gate).");
        WriteDuration = Meter.CreateHistogram<double>("printfarm.influx.write.duration", "s", "Duration of write requests to InfluxDB.");
        AlertTransitions = Meter.CreateCounter<long>("printfarm.alerts.transitions", "{alert}", "Built-in alert transitions, by rule and state.");
        AlertDeliveries = Meter.CreateCounter<long>("printfarm.alerts.deliveries", "{alert}", "Alert deliveries, by channel (mqtt, webhook) and result (ok, failed, already_delivered).");
        AlertsDropped = Meter.CreateCounter<long>("printfarm.alerts.dropped", "{alert}", "Alert transitions not published because the alert queue was full.");
        Notifications = Meter.CreateCounter<long>("printfarm.notifications", "{notification}", "Everyday-event notifications handed to delivery, by kind and digest (true for a rate-limit digest).");
        NotificationDeliveries = Meter.CreateCounter<long>("printfarm.notifications.deliveries", "{notification}", "Notification deliveries, by channel (mqtt, webhook) and result (ok, failed, already_delivered).");
        OrderRequests = Meter.CreateCounter<long>("printfarm.orders.http", "{request}", "Orders received over HTTP, by result (accepted, rejected, oversize, unavailable).");
    }

    /// <summary>The meter.</summary>
    public Meter Meter { get; }

    /// <summary>The activity source.</summary>
    public ActivitySource ActivitySource { get; }

    internal Counter<long> MessagesReceived { get; }

    internal Counter<long> MessagesRejected { get; }

    internal Counter<long> MqttConnects { get; }

    internal Counter<long> JobsEnded { get; }

    internal Counter<long> LateJobs { get; }

    internal Counter<long> PointsWritten { get; }

    internal Counter<long> PointsRejected { get; }

    internal Counter<long> WriteFailures { get; }

    internal Counter<long> PointsSpooled { get; }

    internal Counter<long> PointsDroppedSpoolFull { get; }

    internal Counter<long> DeadLetterFailures { get; }

    internal Counter<long> DeadLettersReplaySkipped { get; }

    internal Counter<long> DeadLettersRefused { get; }

    internal Counter<long> MqttOversizeSkippedBytes { get; }

    internal Histogram<double> WriteDuration { get; }

    internal Counter<long> JournalAppended { get; }

    internal Counter<long> JournalCommits { get; }

    internal Counter<long> JournalFailures { get; }

    internal Counter<long> JournalAckFailures { get; }

    internal Counter<long> MessagesDroppedJournalFull { get; }

    internal Counter<long> JournalCorruptBytes { get; }

    internal Counter<long> LoopFailures { get; }

    internal Counter<long> SpoolFailures { get; }

    internal Histogram<double> CheckpointDuration { get; }

    internal Counter<long> AlertTransitions { get; }

    internal Counter<long> AlertDeliveries { get; }

    internal Counter<long> AlertsDropped { get; }

    /// <summary>Notifications handed to delivery.</summary>
    internal Counter<long> Notifications { get; }

    /// <summary>Notification deliveries by channel and result.</summary>
    internal Counter<long> NotificationDeliveries { get; }

    /// <summary>Orders received over HTTP, by result.</summary>
    internal Counter<long> OrderRequests { get; }

    /// <summary>
    /// Creates the pipeline's gauges (issue 12), read from <paramref name="figures"/> when a reader collects, and the
    /// counters of values folded by the cardinality caps.
    /// </summary>
    internal void ObservePipeline(Operations.PipelineGauges figures)
    {
        Meter.CreateObservableGauge("printfarm.queue.inbound.depth", () => figures.Read().InboundDepth, "{message}", "Messages received and waiting for the journal's next group commit.");
        Meter.CreateObservableGauge("printfarm.queue.lines.depth", () => figures.Read().LinesDepth, "{line}", "Lines waiting between the pipeline and the InfluxDB writer.");
        Meter.CreateObservableGauge("printfarm.influx.spool.bytes", () => figures.Read().SpoolBytes, "By", "Bytes in the disk spool.");
        Meter.CreateObservableGauge("printfarm.influx.spool.oldest_age", () => figures.Read().SpoolOldestAgeSeconds, "s", "Age of the oldest spooled batch (0 when the spool is empty).");
        Meter.CreateObservableGauge("printfarm.watermark.lag", () => figures.Read().WatermarkLagSeconds ?? 0, "s", "How far the event-time watermark trails the wall clock.");
        Meter.CreateObservableGauge("printfarm.checkpoint.age", () => figures.Read().CheckpointAgeSeconds ?? 0, "s", "Time since the last checkpoint was written.");
        Meter.CreateObservableGauge("printfarm.mqtt.connected", () => figures.Read().MqttConnected ? 1 : 0, "{connection}", "1 while connected to the broker.");
        Meter.CreateObservableGauge("printfarm.jobs.open", () => figures.Read().OpenJobs, "{job}", "Jobs started and not yet ended.");
        Meter.CreateObservableGauge("printfarm.kpi.windows.open", () => figures.Read().OpenWindows, "{window}", "KPI window series held in memory.");
        Meter.CreateObservableCounter("printfarm.guard.folded", () => figures.Folded(), "{value}", "Tag values folded into 'other' by the cardinality caps, by kind.");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ActivitySource.Dispose();
        Meter.Dispose();
    }
}
