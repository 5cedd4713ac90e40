using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PrintFarm.IntegrationTests.Support;
using PrintFarm.Worker.Configuration;
using PrintFarm.Worker.DeadLetters;
using PrintFarm.Worker.Diagnostics;
using PrintFarm.Worker.Hosting;
using PrintFarm.Worker.Influx;
using PrintFarm.Worker.Pipeline;

namespace PrintFarm.IntegrationTests.Influx;

/// <summary>
/// The writer's error handling, answer by answer, with a stubbed HTTP handler and a fake clock (retry back-off and
/// spool intervals advance without waiting). That it works against real servers is shown by the InfluxDB 1.x,
/// VictoriaMetrics and outage tests; here the point is every branch: retry, spool, replay, 413 split, 400 narrowing.
/// </summary>
public sealed class InfluxWriterServiceTests
{
    [Fact]
    public async Task Transient_failures_are_retried_then_spooled_and_replayed_in_order_once_the_database_recovers()
    {
        var down = true;
        await using var h = await Harness.StartAsync(lines => down ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.NoContent);
        var first = Lines("a", 5);
        await h.WriteAsync(first);

        // One attempt plus MaxRetries (2), then the lines are on disk (in one batch file, or two when the lane's batch
        // interval fell between them on a busy machine).
        await h.Until(() => h.Counter("printfarm.influx.points.spooled"), n => n == first.Count, "the batch to be spooled");
        Assert.True(h.Requests.Count >= 3);
        var files = h.SpoolFiles().Length;
        Assert.InRange(files, 1, 2);

        // While the spool holds anything, new batches queue behind it rather than overtaking it.
        var second = Lines("b", 3);
        await h.WriteAsync(second);
        await h.Until(() => h.Counter("printfarm.influx.points.spooled"), n => n == first.Count + second.Count, "the second batch to queue behind the first");
        Assert.True(h.SpoolFiles().Length > files);

        down = false;
        await h.Until(() => h.SpoolFiles().Length, n => n == 0, "the spool to be replayed");
        var delivered = h.Delivered();
        Assert.Equal(first.Concat(second), delivered);
        Assert.Equal(first.Count + second.Count, h.Counter("printfarm.influx.points.written"));
    }

    [Fact]
    public async Task A_request_too_large_is_split_until_each_part_fits()
    {
        // The stub takes at most 2 lines per request.
        await using var h = await Harness.StartAsync(lines => lines.Count > 2 ? HttpStatusCode.RequestEntityTooLarge : HttpStatusCode.NoContent);
        var lines = Lines("x", 8);
        await h.WriteAsync(lines);

        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == lines.Count, "every line to be written");
        Assert.Equal(lines.Order(StringComparer.Ordinal), h.Delivered().Order(StringComparer.Ordinal));
        Assert.All(h.Requests.Where(r => r.Status == HttpStatusCode.NoContent), r => Assert.True(r.Lines.Count <= 2));
        Assert.Empty(h.SpoolFiles());
        Assert.Empty(h.DeadLetterFiles());
    }

    // InfluxDB's own words for bad lines (1.x as answered by the influxd 1.6 fixture; 2.x and 3.x as documented).
    public static TheoryData<int, string> BadDataAnswers => new()
    {
        { 400, "{\"error\":\"partial write: unable to parse 'm,p=y v=bad 1': invalid boolean dropped=0\"}" },
        { 400, "{\"error\":\"partial write: field type conflict: input field \\\"v\\\" on measurement \\\"m\\\" is type float, already exists as type integer dropped=1\"}" },
        { 400, "{\"code\":\"invalid\",\"message\":\"unable to parse 'm,p=y v=bad 1': invalid boolean\"}" },
        { 422, "{\"code\":\"unprocessable entity\",\"message\":\"failure writing points to database: partial write: points beyond retention policy dropped=1\"}" },
        { 400, "{\"error\":\"partial write of line protocol occurred\",\"data\":[{\"original_line\":\"m,p=y v=bad 1\",\"line_number\":1,\"error_message\":\"invalid column type\"}]}" },
    };

    [Theory]
    [MemberData(nameof(BadDataAnswers))]
    public async Task Lines_the_database_names_as_bad_are_found_by_splitting_and_dead_lettered_alone_while_the_good_lines_land(int status, string body)
    {
        // 200 lines, two of them refused, in one request. Halving isolates each bad line; the 198 others are written.
        await using var h = await Harness.StartAsync(
            lines => lines.Any(l => l.Contains("bad", StringComparison.Ordinal)) ? new Answer((HttpStatusCode)status, body) : new Answer(HttpStatusCode.NoContent),
            batchSize: 1000);
        var lines = Lines("y", 200);
        lines[37] = "m,p=y v=bad 1"; // the same series as the others, so the same lane
        lines[120] = "m,p=y v=bad 2";
        await h.WriteAsync(lines, oneBatch: true); // so they are sent as one request

        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 198, "the good lines to be written");
        Assert.Equal(new[] { lines[37], lines[120] }, h.DeadLetteredLines().Order(StringComparer.Ordinal));
        Assert.StartsWith("# rejected by InfluxDB", File.ReadAllLines(h.DeadLetterFiles()[0])[0], StringComparison.Ordinal);
        Assert.Equal(2, h.Counter("printfarm.influx.points.rejected"));
        Assert.Equal(lines.Where((_, i) => i is not 37 and not 120).Order(StringComparer.Ordinal), h.Delivered().Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(h.SpoolFiles());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await h.ReadinessAsync()).Status);
    }

    [Fact]
    public async Task A_400_that_names_no_bad_data_keeps_new_batches_and_the_spools_backlog_and_fails_readiness_until_writes_land()
    {
        // First an outage (503): a batch goes to the spool. Then a 400 that is not InfluxDB naming bad lines (a proxy,
        // a wrong bucket parameter): neither the backlog nor the new batch may be dead-lettered.
        var answer = new Answer(HttpStatusCode.ServiceUnavailable);
        await using var h = await Harness.StartAsync(_ => answer, batchSize: 5);
        var backlog = Lines("a", 5);
        await h.WriteAsync(backlog, oneBatch: true);
        await h.Until(() => h.SpoolFiles().Length, n => n == 1, "the outage's batch to be spooled");

        answer = new Answer(HttpStatusCode.BadRequest, "<html><body><h1>400 Bad Request</h1>The plain HTTP request was sent to HTTPS port</body></html>");
        var fresh = Lines("a", 5).Select(l => l.Replace("m,p=a v=", "m,p=a w=", StringComparison.Ordinal)).ToList();
        await h.WriteAsync(fresh, oneBatch: true);
        await h.Until(() => h.Requests.Count(r => r.Status == HttpStatusCode.BadRequest), n => n >= 2, "the backlog to be refused twice");
        await h.Until(() => h.SpoolFiles().Length, n => n == 2, "the new batch to queue behind the backlog");
        Assert.Empty(h.DeadLetterFiles());
        Assert.Equal(0, h.Counter("printfarm.influx.points.rejected"));
        var ready = await h.ReadinessAsync();
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, ready.Status);
        Assert.Contains("400", ready.Description, StringComparison.Ordinal);
        Assert.Contains("PrintFarm:Influx:Url", ready.Description, StringComparison.Ordinal);

        answer = new Answer(HttpStatusCode.NoContent);
        await h.Until(() => h.SpoolFiles().Length, n => n == 0, "the spool to be replayed once the server takes the writes");
        Assert.Equal(backlog.Concat(fresh), h.Delivered());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await h.ReadinessAsync()).Status);
    }

    [Theory]
    [InlineData(401, "{\"error\":\"authorization failed\"}", "PrintFarm:Influx:Username")]
    [InlineData(403, "{\"error\":\"user is not authorized to write to database db\"}", "grant it WRITE")]
    [InlineData(404, "{\"error\":\"database not found: \\\"db\\\"\"}", "PrintFarm:Influx:Database")]
    [InlineData(404, "404 page not found", "PrintFarm:Influx:ApiVersion")]
    public async Task A_refusal_keeps_every_batch_retries_with_back_off_and_readiness_names_the_status_and_the_setting(int status, string body, string setting)
    {
        var answer = new Answer((HttpStatusCode)status, body);
        await using var h = await Harness.StartAsync(_ => answer, batchSize: 4);
        var lines = Lines("z", 8);
        await h.WriteAsync(lines);

        // Retried from the spool, the waits doubling from SpoolRetryInterval (5 s): 4 replays take 5+10+20 s of clock.
        await h.Until(() => h.Requests.Count, n => n >= 5, "the refused batch to be replayed");
        Assert.Equal(lines, h.SpooledLines());
        Assert.Empty(h.DeadLetterFiles());
        var ready = await h.ReadinessAsync();
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, ready.Status);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), ready.Description, StringComparison.Ordinal);
        Assert.Contains(setting, ready.Description, StringComparison.Ordinal);

        answer = new Answer(HttpStatusCode.NoContent);
        await h.Until(() => h.SpoolFiles().Length, n => n == 0, "the spool to be replayed once the setting is fixed");
        Assert.Equal(lines, h.Delivered());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await h.ReadinessAsync()).Status);
    }

    [Fact]
    public async Task A_413_on_a_single_line_keeps_it_and_fails_readiness_naming_the_servers_limit()
    {
        await using var h = await Harness.StartAsync(_ => new Answer(HttpStatusCode.RequestEntityTooLarge, "{\"error\":\"Request Entity Too Large\"}"), batchSize: 4);
        var lines = Lines("big", 4);
        await h.WriteAsync(lines);

        await h.Until(() => h.SpooledLines().Count(), n => n == 4, "the batch to be spooled");
        await h.Until(() => h.Requests.Count(r => r.Lines.Count == 1), n => n >= 1, "the batch to be split down to one line");
        Assert.Empty(h.DeadLetterFiles());
        var ready = await h.ReadinessAsync();
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, ready.Status);
        Assert.Contains("max-body-size", ready.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task A_long_Retry_After_spools_the_batch_at_once_so_the_pipeline_goes_on_and_the_replay_waits_for_it(int status)
    {
        // The case: Retry-After: 20 with 3 retries held the batch 60 s in its lane, the pipeline behind it.
        var answer = new Answer((HttpStatusCode)status, "{\"code\":\"too many requests\",\"message\":\"slow down\"}", RetryAfterSeconds: 20);
        await using var h = await Harness.StartAsync(_ => answer, batchSize: 4);
        var lines = Lines("r", 4);
        await h.WriteAsync(lines, oneBatch: true);

        // The clock stands still: the batch reaches the spool and the checkpoint barrier behind it passes without any wait.
        await h.Until(() => h.SpoolFiles().Length, n => n == 1, "the batch to be spooled without waiting", advanceClock: false);
        var barrier = await h.BarrierAsync();
        await barrier.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Single(h.Requests);

        // More lines queue behind the spooled batch, still without any wait.
        var more = Lines("s", 4);
        await h.WriteAsync(more, oneBatch: true);
        await h.Until(() => h.SpoolFiles().Length, n => n == 2, "the next batch to queue behind it", advanceClock: false);

        // The replay honours Retry-After: its first request comes 20 s (of the fake clock) after the 429, then the spool drains.
        answer = new Answer(HttpStatusCode.NoContent);
        await h.Until(() => h.SpoolFiles().Length, n => n == 0, "the spool to be replayed after Retry-After");
        Assert.Equal(lines.Concat(more), h.Delivered());
        var requests = h.Requests;
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(20), $"replayed {(requests[1].At - requests[0].At).TotalSeconds} s after the 429");
    }

    [Fact]
    public async Task A_short_Retry_After_is_waited_out_in_place_within_the_retry_budget()
    {
        var answers = new ConcurrentQueue<Answer>([new Answer(HttpStatusCode.TooManyRequests, "{}", RetryAfterSeconds: 2)]);
        await using var h = await Harness.StartAsync(_ => answers.TryDequeue(out var a) ? a : new Answer(HttpStatusCode.NoContent), batchSize: 4);
        var lines = Lines("q", 4);
        await h.WriteAsync(lines);

        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 4, "the batch to be written after the short wait");
        Assert.Empty(h.SpoolFiles());
        Assert.Equal(2, h.Requests.Count);
    }

    [Fact]
    public async Task A_refused_write_is_kept_in_the_spool_not_dropped()
    {
        // A full batch is sent at once; the clock stands still, so a retry (which waits for back-off) could not happen
        // before the batch reaches the spool: 401 goes there without retries.
        await using var h = await Harness.StartAsync(_ => HttpStatusCode.Unauthorized, batchSize: 4);
        await h.WriteAsync(Lines("z", 4), oneBatch: true);

        await h.Until(() => h.SpoolFiles().Length, n => n == 1, "the batch to be spooled", advanceClock: false);
        Assert.Equal(4, File.ReadAllText(h.SpoolFiles()[0]).Split('\n').Length);
        Assert.Empty(h.DeadLetterFiles());
    }

    [Fact]
    public async Task The_end_of_a_burst_is_sent_at_once_or_after_a_short_linger_and_a_trickle_waits_for_the_batch_interval()
    {
        // Batches of 100 lines, so an idle lane sends what it has as soon as the queue is empty from 10 lines on. The
        // fake clock stands still: nothing may wait for BatchInterval to be sent.
        await using var h = await Harness.StartAsync(_ => HttpStatusCode.NoContent, batchSize: 100);
        await h.WriteAsync(Lines("burst", 30), oneBatch: true);
        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 30, "the burst to be written without waiting", advanceClock: false);

        // The last lines of the burst, below a tenth of a batch: they go out once 50 ms have passed, far short of the
        // 1 s BatchInterval. The fake clock moves 10 ms a poll.
        await h.WriteAsync(Lines("tail", 3), oneBatch: true);
        var waited = TimeSpan.Zero;
        await Eventually.Until(
            () =>
            {
                h.Time.Advance(TimeSpan.FromMilliseconds(10));
                waited += TimeSpan.FromMilliseconds(10);
                return Task.FromResult(h.Counter("printfarm.influx.points.written"));
            },
            n => n == 33,
            "the burst's tail to be written after the short linger");
        Assert.True(waited < TimeSpan.FromSeconds(1), $"the burst's tail waited {waited.TotalMilliseconds} ms of the clock");

        // The batch before was small: three more lines are a trickle, and wait until their BatchInterval has passed.
        await h.WriteAsync(Lines("trickle", 3), oneBatch: true);
        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 36, "the trickle to be written once the interval has passed");
        Assert.Equal(3, h.Requests.Count);
        Assert.Equal(3, h.Requests[1].Lines.Count);
        Assert.Equal(3, h.Requests[2].Lines.Count);
    }

    [Fact]
    public async Task Two_writes_are_in_flight_at_once_and_each_series_arrives_in_order()
    {
        // Series a and b go through different lanes. The stub holds every request until two are in flight together:
        // with one lane this test times out.
        var (a, b) = SeriesInDifferentLanes(2);
        var inFlight = 0;
        var maxInFlight = 0;
        var both = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await Harness.StartAsync(
            _ => HttpStatusCode.NoContent,
            batchSize: 5,
            concurrentWrites: 2,
            gate: async _ =>
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref maxInFlight, now);
                if (now >= 2)
                {
                    both.TrySetResult();
                }

                await both.Task.WaitAsync(TimeSpan.FromSeconds(30));
                Interlocked.Decrement(ref inFlight);
            });
        var first = Lines(a, 20);
        var second = Lines(b, 20);
        await h.WriteAsync(first.Zip(second).SelectMany(p => new[] { p.First, p.Second }));

        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 40, "every line to be written");
        Assert.Equal(2, maxInFlight);
        Assert.Equal(first, h.Delivered().Where(l => l.StartsWith($"m,p={a} ", StringComparison.Ordinal)));
        Assert.Equal(second, h.Delivered().Where(l => l.StartsWith($"m,p={b} ", StringComparison.Ordinal)));
        Assert.All(h.Requests, r => Assert.Single(r.Lines.Select(l => l.Split(' ')[0]).Distinct()));
    }

    [Fact]
    public async Task A_barrier_completes_only_once_every_lane_has_written_what_was_queued_before_it()
    {
        var (a, b) = SeriesInDifferentLanes(2);
        var releaseB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await Harness.StartAsync(
            _ => HttpStatusCode.NoContent,
            batchSize: 100,
            concurrentWrites: 2,
            gate: lines => lines[0].StartsWith($"m,p={b} ", StringComparison.Ordinal) ? releaseB.Task.WaitAsync(TimeSpan.FromSeconds(30)) : Task.CompletedTask);
        await h.WriteAsync(Lines(a, 3).Concat(Lines(b, 3)));
        var barrier = await h.BarrierAsync();

        // a's lines are written; b's request is held: the barrier must still be open.
        await h.Until(() => h.Counter("printfarm.influx.points.written"), n => n == 3, "series a to be written", advanceClock: false);
        Assert.False(barrier.IsCompleted);

        releaseB.SetResult();
        await barrier.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(6, h.Counter("printfarm.influx.points.written"));
    }

    [Theory]
    [InlineData("m,p=a v=1 1", "m,p=a")]
    [InlineData("m,p=a\\ b v=1 1", "m,p=a\\ b")]
    [InlineData("m\\ x,p=a\\,b\\=c v=1 1", "m\\ x,p=a\\,b\\=c")]
    [InlineData("m,p=a\\\\ v=1 1", "m,p=a\\\\")]
    public void The_lane_of_a_line_depends_on_its_series_key_only(string line, string seriesKey)
    {
        for (var lanes = 1; lanes <= 8; lanes++)
        {
            Assert.Equal(InfluxWriterService.LaneOf(seriesKey + " other=2 99", lanes), InfluxWriterService.LaneOf(line, lanes));
            Assert.InRange(InfluxWriterService.LaneOf(line, lanes), 0, lanes - 1);
        }
    }

    private static (string A, string B) SeriesInDifferentLanes(int lanes)
    {
        var a = "s0";
        var laneOfA = InfluxWriterService.LaneOf($"m,p={a} v=1 1", lanes);
        var b = Enumerable.Range(1, 100).Select(i => $"s{i}").First(s => InfluxWriterService.LaneOf($"m,p={s} v=1 1", lanes) != laneOfA);
        return (a, b);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static List<string> Lines(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => $"m,p={prefix} v={i}i {1767600000000 + i}").ToList();

    private sealed record Request(IReadOnlyList<string> Lines, HttpStatusCode Status, DateTimeOffset At);

    private sealed class Harness : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly PipelineChannels _channels;
        private readonly InfluxWriterService _writer;
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _counters = new();
        private readonly string _folder;

        private Harness(ServiceProvider services, PipelineChannels channels, InfluxWriterService writer, PrintFarmInstrumentation metrics, FakeTimeProvider time, ConcurrentQueue<Request> requests, string folder)
        {
            _services = services;
            _channels = channels;
            _writer = writer;
            Time = time;
            RequestLog = requests;
            _folder = folder;
            _listener.InstrumentPublished = (instrument, l) =>
            {
                // This harness's meter only: tests running in parallel have meters of the same name.
                if (ReferenceEquals(instrument.Meter, metrics.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _counters.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
            _listener.Start();
        }

        public FakeTimeProvider Time { get; }

        /// <summary>The writer's readiness check, as <c>/readyz</c> runs it.</summary>
        public required InfluxHealthCheck Health { get; init; }

        public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> ReadinessAsync() =>
            await Health.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());

        /// <summary>Every dead-lettered line (the files' comment lines left out).</summary>
        public IEnumerable<string> DeadLetteredLines() => DeadLetterFiles().SelectMany(File.ReadAllLines).Where(l => !l.StartsWith('#'));

        /// <summary>Every spooled line.</summary>
        public IEnumerable<string> SpooledLines() => SpoolFiles().SelectMany(File.ReadAllLines).Where(l => l.Length > 0);

        private ConcurrentQueue<Request> RequestLog { get; }

        public IReadOnlyList<Request> Requests => RequestLog.ToArray();

        public static Task<Harness> StartAsync(Func<IReadOnlyList<string>, HttpStatusCode> respond, int batchSize = 10, int concurrentWrites = 1, Func<IReadOnlyList<string>, Task>? gate = null) =>
            StartAsync(lines => new Answer(respond(lines)), batchSize, concurrentWrites, gate);

        public static async Task<Harness> StartAsync(Func<IReadOnlyList<string>, Answer> respond, int batchSize = 10, int concurrentWrites = 1, Func<IReadOnlyList<string>, Task>? gate = null, Action<InfluxOptions>? configure = null, string? pingVersion = "1.6.7~rc0")
        {
            var folder = ServerProcess.NewFolder("writer");
            var options = Options.Create(new PrintFarmOptions
            {
                DataFolder = folder,
                Influx = new InfluxOptions
                {
                    Url = "http://influx.invalid:8086",
                    ApiVersion = "v1",
                    Database = "db",
                    BatchSize = batchSize,
                    MaxConcurrentWrites = concurrentWrites,
                    BatchInterval = TimeSpan.FromSeconds(1),
                    MaxRetries = 2,
                    RetryDelay = TimeSpan.FromSeconds(1),
                    SpoolRetryInterval = TimeSpan.FromSeconds(5),
                },
            });
            configure?.Invoke(options.Value.Influx);
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero));
            var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var metrics = new PrintFarmInstrumentation(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
            var folders = new DataFolders(options);
            var requests = new ConcurrentQueue<Request>();
            var http = new HttpClient(new StubHandler(respond, requests, gate, pingVersion, time));
            var channels = new PipelineChannels(options);
            var health = new InfluxWriteHealth(time);
            var writer = new InfluxWriterService(
                new InfluxWriteClient(http, options, time),
                channels,
                new DeadLetterStore(folders, time, metrics, NullLogger<DeadLetterStore>.Instance),
                folders,
                metrics,
                options,
                time,
                NullLogger<InfluxWriterService>.Instance,
                health);
            var harness = new Harness(services, channels, writer, metrics, time, requests, folder) { Health = new InfluxHealthCheck(health) };
            await writer.StartAsync(CancellationToken.None);
            return harness;
        }

        public long Counter(string name) => _counters.TryGetValue(name, out var v) ? v : 0;

        public string[] SpoolFiles() => Directory.Exists(Path.Combine(_folder, "spool")) ? Directory.GetFiles(Path.Combine(_folder, "spool"), "*.lp").Order(StringComparer.Ordinal).ToArray() : [];

        public string[] DeadLetterFiles() => Directory.Exists(Path.Combine(_folder, "deadletter")) ? Directory.GetFiles(Path.Combine(_folder, "deadletter"), "influx-rejected-*.lp") : [];

        public IEnumerable<string> Delivered() => Requests.Where(r => r.Status == HttpStatusCode.NoContent).SelectMany(r => r.Lines);

        // Line by line, the writer may drain the queue between two lines and send what it holds as an early batch (an
        // idle lane sends a tenth of a batch at once); a test that counts batches or spool files writes oneBatch.
        public async Task WriteAsync(IEnumerable<string> lines, bool oneBatch = false)
        {
            if (oneBatch)
            {
                await _channels.PublishAsync(lines.ToList());
                return;
            }

            foreach (var line in lines)
            {
                await _channels.PublishAsync([line]);
            }
        }

        /// <summary>Queues a checkpoint barrier behind the lines written so far; the task completes when the writer passes it.</summary>
        public async Task<Task> BarrierAsync()
        {
            var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await _channels.Lines.Writer.WriteAsync(LineBatch.ForBarrier(barrier));
            return barrier.Task;
        }

        // Polls with a deadline; each poll also moves the fake clock on, so batch intervals, back-off and spool
        // retries elapse without real waiting.
        public Task<T> Until<T>(Func<T> probe, Func<T, bool> done, string what, bool advanceClock = true) =>
            Eventually.Until(
                () =>
                {
                    if (advanceClock)
                    {
                        Time.Advance(TimeSpan.FromMilliseconds(500));
                    }

                    return Task.FromResult(probe());
                },
                done,
                what,
                TimeSpan.FromSeconds(30));

        public async ValueTask DisposeAsync()
        {
            _channels.Lines.Writer.TryComplete();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _writer.StopAsync(stop.Token);
            _writer.Dispose();
            _listener.Dispose();
            await _services.DisposeAsync();
        }
    }

    /// <summary>A scripted answer of the stub: a status, a body (InfluxDB's JSON error), optionally <c>Retry-After</c> seconds.</summary>
    internal sealed record Answer(HttpStatusCode Status, string? Body = null, int? RetryAfterSeconds = null);

    private sealed class StubHandler(Func<IReadOnlyList<string>, Answer> respond, ConcurrentQueue<Request> requests, Func<IReadOnlyList<string>, Task>? gate, string? pingVersion, TimeProvider time) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath == "/ping")
            {
                // As InfluxDB answers: 204 with its version (VictoriaMetrics sends none).
                var pong = new HttpResponseMessage(HttpStatusCode.NoContent);
                if (pingVersion is not null)
                {
                    pong.Headers.Add("X-Influxdb-Version", pingVersion);
                    pong.Headers.Add("X-Influxdb-Build", "OSS");
                }

                return pong;
            }


            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            if (request.Content.Headers.ContentEncoding.Contains("gzip"))
            {
                using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                await gzip.CopyToAsync(plain, cancellationToken);
                body = plain.ToArray();
            }

            var lines = Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (gate is not null)
            {
                await gate(lines);
            }

            var answer = respond(lines);
            var status = answer.Status;
            requests.Enqueue(new Request(lines, status, time.GetUtcNow()));
            var response = new HttpResponseMessage(status) { Content = new StringContent(answer.Body ?? (status == HttpStatusCode.NoContent ? string.Empty : "{\"error\":\"stub\"}")) };
            if (answer.RetryAfterSeconds is { } seconds)
            {
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
            }

            return response;
        }
    }
}
