using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using PrintFarm.Core.Alerts;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Jobs;
using PrintFarm.Core.Kpis;
using PrintFarm.Core.LineProtocol;
using PrintFarm.Core.Normalization;
using PrintFarm.Core.Processing;
using PrintFarm.Worker.Alerts;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Journal;
using PrintFarm.Worker.Mqtt;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.Worker.Hosting;

/// <summary>Registers the worker's modules. <c>Program.cs</c> calls <see cref="AddPrintFarmTelemetry"/>; tests call it too.</summary>
public static class PrintFarmHostingExtensions
{
    /// <summary>Everything: options, the processing core, MQTT ingestion, the InfluxDB writer and OpenTelemetry.</summary>
    public static IHostApplicationBuilder AddPrintFarmTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddPrintFarmOptions();
        builder.Services.AddPrintFarmProcessing();
        // Hosted services stop in reverse order of registration: MQTT first, then the pipeline drains,
        // then the alert publisher delivers what the last flush raised, then the writer drains. Keep this order.
        builder.Services.AddInfluxWriter();
        builder.Services.AddAlertPublisher();
        if (builder.Configuration.GetValue<bool>($"{PrintFarmOptions.SectionName}:Cluster:Enabled"))
        {
            // The clustered mode reads JetStream partitions: printers publish to the NATS servers, not to this worker.
            builder.Services.AddHostedService<Cluster.ClusterPipelineService>();
            builder.Services.AddHealthChecks().AddCheck<Operations.ClusterReadinessCheck>("cluster", tags: [Operations.HealthTags.Ready]);
        }
        else
        {
            builder.Services.AddHostedService<TelemetryPipelineService>();
            builder.Services.AddEmbeddedBroker();
            builder.Services.AddMqttIngestion();
        }

        builder.Services.AddPrintFarmHealth();
        builder.AddPrintFarmOpenTelemetry();
        return builder;
    }

    /// <summary>Binds and validates <see cref="PrintFarmOptions"/> at start-up.</summary>
    public static IServiceCollection AddPrintFarmOptions(this IServiceCollection services)
    {
        services.AddOptions<PrintFarmOptions>()
            .BindConfiguration(PrintFarmOptions.SectionName)
            .PostConfigure(o =>
            {
                if (o.Windows.Count == 0)
                {
                    o.Windows.AddRange(["1h", "1d"]);
                }
            })
            .PostConfigure(SecretFiles.Apply)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<PrintFarmOptions>, PrintFarmOptionsValidator>();
        services.AddSingleton<DataFolders>();
        services.AddSingleton<DataFolderLock>();
        services.AddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>The pure processing core, built from options.</summary>
    public static IServiceCollection AddPrintFarmProcessing(this IServiceCollection services)
    {
        services.AddSingleton<PrintFarmInstrumentation>();
        services.AddSingleton<DeadLetterStore>();
        services.AddSingleton<PipelineChannels>();
        services.AddSingleton<Checkpoints.CheckpointStore>();
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
            _ = sp.GetRequiredService<DataFolderLock>(); // nobody opens (or recovers) the journal without holding the folder
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger<MessageJournal>();
            if (o.Mqtt.QueueCapacity is { } older && o.Journal.GroupMessages is null)
            {
                Log.QueueCapacityRenamed(logger, older);
            }

            return new MessageJournal(
                sp.GetRequiredService<DataFolders>().Journal,
                o.Journal,
                JournalOptions.EffectiveGroupMessages(o),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<PrintFarmInstrumentation>(),
                logger);
        });

        // First of all hosted services, so they start first and stop last; the writer stops before its
        // acknowledgements (reverse order), which end once the writer has posted its last.
        services.AddHostedService<JournalAcknowledgementService>();
        services.AddHostedService<JournalWriterService>();
        services.AddSingleton(sp => new PrinterAdapters(sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value));
        services.AddSingleton(sp => CreateProcessor(sp, alerts: true));
        return services;
    }

    /// <summary>
    /// The processor as the settings describe it (<paramref name="alerts"/>: the worker's, with the shared adapters).
    /// The history import makes its own: without alerts (history raises none), with its own adapters and guard, and
    /// with the cut before which it writes points.
    /// </summary>
    /// <remarks>
    /// <paramref name="partition"/>: a clustered-mode partition's processor (its own adapters, no notifications). Its
    /// farm, toy and material points carry the partition tag (<see cref="PointEncoder.Partition"/>), and its built-in
    /// alerts judge printers only: a partition sees only its share of the farm. Farm-wide alerts come from the farm
    /// alert stage, which adds the partitions' partial sums up (docs/scale-out.md, "Farm-wide alerts"), and from the
    /// Grafana rules, which add them up too.
    /// </remarks>
    internal static TelemetryProcessor CreateProcessor(IServiceProvider sp, bool alerts, CardinalityGuard? guard = null, DateTimeOffset? writeBefore = null, int? partition = null)
    {
        var o = sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value;
        var materials = new MaterialCatalog(
            o.Materials.ToDictionary(kv => kv.Key, kv => new MaterialInfo(kv.Value.Density, kv.Value.PricePerKg), StringComparer.OrdinalIgnoreCase),
            o.DefaultMaterial,
            o.FilamentDiameterMm);
        PrintFarmOptionsValidator.TryTimeZone(o.TimeZone, out var zone);
        var kpis = new KpiEngine(new KpiEngineOptions
        {
            Windows = o.Windows.Select(w => WindowSpec.Parse(w, zone)).ToArray(),
            OutOfOrderness = o.OutOfOrderness,
            AllowedLateness = o.AllowedLateness,
            SourceIdleTimeout = o.SourceIdleTimeout,
        });
        return new TelemetryProcessor(
            // Adapters hold state: an import's processor has its own, never the worker's.
            (alerts ? sp.GetRequiredService<PrinterAdapters>() : new PrinterAdapters(o)).All,
            new JobTracker(new ToyNameRules(o.ToyNamePatterns), materials, o.PrinterMaterials),
            kpis,
            new PointEncoder(o.Farm) { Partition = partition },
            new TelemetryProcessorOptions { MaxPayloadBytes = o.MaxPayloadBytes, MaxClockSkew = o.MaxClockSkew },
            (alerts || partition is not null) && o.Alerts.Rules.Enabled ? new AlertEvaluator(o.Alerts.Rules, o.AllowedLateness, printersOnly: partition is not null) : null)
        {
            Guard = guard ?? sp.GetRequiredService<CardinalityGuard>(),
            WriteBefore = writeBefore,
            Orders = o.Orders.Enabled ? new PrintFarm.Core.Orders.OrderBook(kpis.Windows, o.Orders) : null,
            Reasons = new ReasonTracker(kpis.Windows, o.Reasons),

            // Alerts and notifications are the live worker's: an import of history sends neither.
            Notifications = alerts && o.Notifications.Enabled ? new PrintFarm.Core.Notifications.NotificationPlanner(o.Notifications) : null,
            Timeline = o.Oee.Enabled ? CreateTimeline(o, kpis, zone) : null,
            // Energy and landed cost: on when asked for, or as soon as a plug is configured.
            Costs = o.Cost.Enabled || o.Energy.Plugs.Count > 0 ? new PrintFarm.Core.Cost.CostLedger(kpis.Windows, o.Cost.Prices, o.Energy, zone, o.AllowedLateness) : null,
        };
    }

    // Time accounting over the KPI engine's windows; offline after the stopped-reporting alert's silence.
    private static PrinterTimeline CreateTimeline(PrintFarmOptions o, KpiEngine kpis, TimeZoneInfo? zone)
    {
        OffShiftSchedule.TryParse(o.Oee.OffShift, zone, out var offShift, out _);
        return new PrinterTimeline(new PrinterTimelineOptions
        {
            Windows = kpis.Windows,
            AllowedLateness = o.AllowedLateness,
            OfflineAfter = o.Alerts.Rules.StoppedReportingAfter,
            OffShift = offShift ?? OffShiftSchedule.None,
        });
    }

    /// <summary>A cardinality guard with the configured caps (<c>PrintFarm:Guards</c>).</summary>
    internal static CardinalityGuard CreateGuard(PrintFarmOptions options)
    {
        var g = options.Guards;
        return new CardinalityGuard(new CardinalityLimits
        {
            MaxPrinters = g.MaxPrinters,
            MaxToys = g.MaxToys,
            MaxMaterials = g.MaxMaterials,
            AllowedPrinters = g.AllowedPrinters,
        });
    }

    /// <summary>The InfluxDB HTTP client and the batching writer.</summary>
    public static IServiceCollection AddInfluxWriter(this IServiceCollection services)
    {
        // No HttpClient request logging: it prints the request URL, and a URL can carry credentials (?u=…&p=…).
        services.AddHttpClient<InfluxWriteClient>()
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(sp => InfluxTls.CreateHandler(sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value.Influx));
        services.TryAddSingleton<ILineSink>(sp => sp.GetRequiredService<InfluxWriteClient>());
        services.AddSingleton<InfluxWriteHealth>();
        services.AddHostedService<InfluxWriterService>();
        services.AddHealthChecks().AddCheck<InfluxHealthCheck>("influx", tags: [Operations.HealthTags.Ready]);
        return services;
    }

    /// <summary>The alert queue and the publisher that delivers built-in alerts and notifications (MQTT, log, optional webhook).</summary>
    public static IServiceCollection AddAlertPublisher(this IServiceCollection services)
    {
        services.AddSingleton<AlertQueue>();
        services.AddSingleton<DeliveredLog>();
        // No HttpClient request logging: a webhook's URL is its secret (Slack, Discord).
        services.AddHttpClient(AlertPublisherService.WebhookClientName).RemoveAllLoggers();
        services.AddHostedService<AlertPublisherService>();
        return services;
    }

    /// <summary>
    /// The broker inside the worker, when <c>PrintFarm:Mqtt:EmbeddedBroker:Enabled</c>: started before the MQTT
    /// subscriber, which then connects to it over loopback (host, port and credentials come from the broker's settings).
    /// </summary>
    public static IServiceCollection AddEmbeddedBroker(this IServiceCollection services)
    {
        services.AddHostedService<EmbeddedBrokerService>();
        // The worker's own clients log in with a credential made here, once per process, that nobody else knows: their
        // client ids cannot be taken over (EmbeddedBrokerAccess).
        var internalPassword = System.Security.Cryptography.RandomNumberGenerator.GetHexString(48);
        services.PostConfigure<PrintFarmOptions>(o =>
        {
            if (o.Mqtt.EmbeddedBroker.Enabled)
            {
                o.Mqtt.Host = EmbeddedBrokerService.InternalHost(o.Mqtt.EmbeddedBroker);
                o.Mqtt.Port = o.Mqtt.EmbeddedBroker.Port;
                o.Mqtt.Username = EmbeddedBrokerAccess.InternalUser;
                o.Mqtt.Password = internalPassword;
                o.Mqtt.PasswordFile = null;
                o.Mqtt.UseTls = false;
            }
        });
        return services;
    }

    /// <summary>The MQTT subscriber.</summary>
    public static IServiceCollection AddMqttIngestion(this IServiceCollection services)
    {
        services.AddHostedService<MqttIngestionService>();
        return services;
    }

    /// <summary>
    /// The pipeline's own health (issue 12): cardinality guard, gauges, the <c>ingest</c> point, and the
    /// <c>/healthz</c> and <c>/readyz</c> endpoints.
    /// </summary>
    public static IServiceCollection AddPrintFarmHealth(this IServiceCollection services)
    {
        services.AddSingleton(sp => CreateGuard(sp.GetRequiredService<IOptions<PrintFarmOptions>>().Value));
        services.AddSingleton(sp =>
        {
            var gauges = ActivatorUtilities.CreateInstance<Operations.PipelineGauges>(sp);
            sp.GetRequiredService<PrintFarmInstrumentation>().ObservePipeline(gauges);
            return gauges;
        });
        services.AddSingleton<Operations.IngestHealthService>();
        services.AddHostedService(sp => sp.GetRequiredService<Operations.IngestHealthService>());
        services.AddHealthChecks()
            .AddCheck<Operations.LoopsHealthCheck>("loops", tags: [Operations.HealthTags.Live, Operations.HealthTags.Ready])
            .AddCheck<Operations.PipelineReadinessCheck>("pipeline", tags: [Operations.HealthTags.Ready])
            .AddCheck<Operations.JournalHealthCheck>("journal", tags: [Operations.HealthTags.Ready]);
        services.AddSingleton<Operations.LabelEndpoint>();
        services.AddSingleton<Operations.OrderEndpoint>();
        services.AddSingleton<Operations.MaintenanceEndpoint>();
        services.AddSingleton<Operations.HealthEndpointService>();
        services.AddHostedService(sp => sp.GetRequiredService<Operations.HealthEndpointService>());
        return services;
    }

    /// <summary>
    /// Metrics and traces of the worker's own instrumentation. Exported over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; otherwise collected in-process only.
    /// </summary>
    public static IHostApplicationBuilder AddPrintFarmOpenTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("printfarm-telemetry"))
            .WithMetrics(m => m.AddMeter(PrintFarmInstrumentation.Name))
            .WithTracing(t => t.AddSource(PrintFarmInstrumentation.Name));
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        return builder;
    }
}
