using System.Globalization;
using System.Text;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Operations;

/// <summary>
/// <c>kpis</c> (issue 19): the farm's <c>kpi</c> points, read back from a real InfluxDB 1.6 with InfluxQL, printed as
/// the demo's KPI table and as CSV with exactly the values written; a database that cannot answer ends it non-zero
/// with one line saying why.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class KpisCommandTests(ServicesFixture services)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static readonly DateTimeOffset ThisHour = new(Now.UtcTicks - (Now.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);
    private static readonly DateTimeOffset Hour1 = ThisHour.AddHours(-2);
    private static readonly DateTimeOffset Hour2 = ThisHour.AddHours(-1);
    private static readonly DateTimeOffset Today = new(Now.UtcDateTime.Date, TimeSpan.Zero);

    [Fact]
    public async Task Kpis_prints_the_farms_windows_in_the_database_as_the_demos_table()
    {
        var (database, farm) = await WriteKnownPointsAsync();

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, database, farm), "kpis");

        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        var rows = stdout.Split('\n').Where(l => l.StartsWith("│ 1h", StringComparison.Ordinal) || l.StartsWith("│ 1d", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count == 3, "three rows, no other farm, scope or older window:\n" + stdout);
        AssertCells(rows[0], "1h", Stamp(Hour1), "12", "20m00s excellent", "90.0 % good", "75 %", "3/1/0");
        AssertCells(rows[1], "1h", Stamp(Hour2), "2", "5h00m slow", "75.0 % good (1 job without filament data left out)", "50 %", "1/0/1");
        AssertCells(rows[2], "1d", Stamp(Today), "14", "27m51s excellent", "86.4 % good (1 job without filament data left out)", "67 %", "4/1/1");
        Assert.Contains("Farm KPIs of " + farm, stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", stdout, StringComparison.Ordinal); // into a pipe: no escape codes
    }

    [Fact]
    public async Task Kpis_csv_carries_exactly_the_values_written()
    {
        var (database, farm) = await WriteKnownPointsAsync();

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, database, farm), "kpis", "--csv", "--since", "24h");

        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        string[] expected =
        [
            "window,start,scope,subject,jobs_completed,jobs_failed,jobs_cancelled,toys_completed,jobs_without_filament,print_time_s,filament_used_g,filament_waste_g,avg_print_time_per_toy_s,material_efficiency,success_rate,estimate_ratio,material_cost,material_cost_per_toy,printing_s,utilization,printers_seen",
            $"1h,{Iso(Hour1)},farm,,3,1,0,12,0,14400,250.5,25.05,1200,0.9,0.75,1.05,,,7200,0.5,4",
            $"1h,{Iso(Hour2)},farm,,1,0,1,2,1,36000,80,20,18000,0.75,0.5,,,,3600,0.25,4",
            $"1d,{Iso(Today)},farm,,4,1,1,14,1,23400,330.5,45.05,1671.4285714285713,0.8636913767019667,0.6666666666666666,1.05,3.5,0.25,10800,0.03125,4",
        ];
        Assert.Equal(expected, stdout.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Kpis_of_a_clustered_farm_adds_the_partitions_points_of_a_window_up_into_one_row()
    {
        var database = "kpis_" + Guid.NewGuid().ToString("N");
        var farm = "farm-" + Guid.NewGuid().ToString("N")[..6];
        await services.Influx.CreateDatabaseAsync(database);
        // Two partitions' shares of one hour (docs/data-model.md, "Partitions"), each with its own ratios.
        var lines = new[]
        {
            $"kpi,farm={farm},partition=0,scope=farm,window=1h jobs_completed=2i,jobs_failed=1i,jobs_cancelled=0i,toys_completed=8i,jobs_without_filament=0i,print_time_s=9000,avg_print_time_per_toy_s=1125,filament_used_g=150.5,filament_waste_g=25.05,material_efficiency=0.83,success_rate=0.67,estimate_ratio=1.05,estimated_jobs_actual_s=6300,estimated_jobs_estimate_s=6000,capacity_s=7200,printing_s=5400,utilization=0.75,printers_seen=2i {Ms(Hour1)}",
            $"kpi,farm={farm},partition=1,scope=farm,window=1h jobs_completed=1i,jobs_failed=0i,jobs_cancelled=0i,toys_completed=4i,jobs_without_filament=0i,print_time_s=5400,avg_print_time_per_toy_s=1350,filament_used_g=100,filament_waste_g=0,material_efficiency=1,success_rate=1,estimate_ratio=1.05,estimated_jobs_actual_s=4200,estimated_jobs_estimate_s=4000,capacity_s=7200,printing_s=1800,utilization=0.25,printers_seen=2i {Ms(Hour1)}",
        };
        using (var http = new HttpClient())
        using (var body = new StringContent(string.Join('\n', lines), Encoding.UTF8))
        using (var response = await http.PostAsync(new Uri($"{services.Influx.Url}/write?db={database}&precision=ms"), body))
        {
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT count(jobs_completed) FROM kpi"), rows => rows.Count == 1 && rows[0].Number("count") == 2, "the points, queryable");

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, database, farm), "kpis", "--csv", "--window", "1h");

        // One row: the sums added, every ratio from the added sums (as one worker would have written the hour).
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        Assert.Equal(
            [
                stdout.Split('\n')[0],
                $"1h,{Iso(Hour1)},farm,,3,1,0,12,0,14400,250.5,25.05,1200,{R((250.5 - 25.05) / 250.5)},0.75,{R(10500.0 / 10000)},,,7200,0.5,4",
            ],
            stdout.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Kpis_of_one_window_and_the_printer_scope_names_each_printer()
    {
        var (database, farm) = await WriteKnownPointsAsync();

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, database, farm), "kpis", "--csv", "--window", "1h", "--scope", "printer");

        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"1h,{Iso(Hour1)},printer,mk4-01,1,0,0,4,", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kpis_ends_with_exit_1_and_one_line_when_the_database_is_unreachable_or_missing()
    {
        var port = ServerProcess.FreePort();
        var (code, stdout, stderr) = await WorkerCommand.RunAsync(Settings($"http://127.0.0.1:{port}", "printfarm", "farm"), "kpis");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith($"kpis: InfluxDB at http://127.0.0.1:{port} is unreachable:", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));

        (code, _, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, "missing_" + Guid.NewGuid().ToString("N"), "farm"), "kpis", "--csv");
        Assert.Equal(1, code);
        Assert.Contains("database not found", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await WorkerCommand.RunAsync(Settings(services.Influx.Url, "printfarm", "farm"), "kpis", "--since", "yesterday");
        Assert.Equal(64, code);
        Assert.Contains("--since 'yesterday' is not a duration", stderr, StringComparison.Ordinal);
    }

    // InfluxDB 2.x (through the bucket's DBRP mapping) and 3.x answer InfluxQL on /query too: with the v2 API the
    // database is the bucket's name and the token goes in the Token scheme. No 2.x server here: a listener stands in.
    [Fact]
    public async Task With_the_v2_api_kpis_queries_the_bucket_as_database_with_the_token()
    {
        var port = ServerProcess.FreePort();
        using var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var answered = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var request = (context.Request.Url!.AbsolutePath, context.Request.QueryString["db"], context.Request.QueryString["q"], context.Request.Headers["Authorization"]);
            var body = Encoding.UTF8.GetBytes($$"""{"results":[{"statement_id":0,"series":[{"name":"kpi","columns":["time","farm","jobs_cancelled","jobs_completed","jobs_failed","scope","toys_completed","window"],"values":[[{{Ms(Hour1)}},"north",0,5,0,"farm",20,"1h"]]}]}]}""");
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
            return request;
        });
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PrintFarm__DataFolder"] = ServerProcess.NewFolder("kpis"),
            ["PrintFarm__Farm"] = "north",
            ["PrintFarm__Influx__ApiVersion"] = "v2",
            ["PrintFarm__Influx__Url"] = $"http://127.0.0.1:{port}",
            ["PrintFarm__Influx__Bucket"] = "farm-bucket",
            ["PrintFarm__Influx__Org"] = "printfarm",
            ["PrintFarm__Influx__Token"] = "v2-token",
        };

        var (code, stdout, stderr) = await WorkerCommand.RunAsync(settings, "kpis", "--csv", "--window", "1h");

        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        var (path, db, q, authorization) = await answered;
        Assert.Equal(("/query", "farm-bucket", "Token v2-token"), (path, db, authorization));
        Assert.StartsWith("SELECT * FROM \"kpi\" WHERE \"farm\" = 'north' AND \"scope\" = 'farm' AND (\"window\" = '1h') AND time >= '", q, StringComparison.Ordinal);
        Assert.Equal($"1h,{Iso(Hour1)},farm,,5,0,0,20,0,,,,,,,,,,,,", stdout.TrimEnd('\n').Split('\n')[1]);
    }

    // The points the worker writes (docs/data-model.md), of this farm and of others, in a fresh database.
    private async Task<(string Database, string Farm)> WriteKnownPointsAsync()
    {
        var database = "kpis_" + Guid.NewGuid().ToString("N");
        var farm = "farm-" + Guid.NewGuid().ToString("N")[..6];
        await services.Influx.CreateDatabaseAsync(database);
        var lines = new[]
        {
            $"kpi,farm={farm},scope=farm,window=1h jobs_completed=3i,jobs_failed=1i,jobs_cancelled=0i,toys_completed=12i,jobs_without_filament=0i,print_time_s=14400,avg_print_time_per_toy_s=1200,filament_used_g=250.5,filament_waste_g=25.05,material_efficiency=0.9,success_rate=0.75,estimate_ratio=1.05,printing_s=7200,utilization=0.5,printers_seen=4i {Ms(Hour1)}",
            $"kpi,farm={farm},scope=farm,window=1h jobs_completed=1i,jobs_failed=0i,jobs_cancelled=1i,toys_completed=2i,jobs_without_filament=1i,print_time_s=36000,avg_print_time_per_toy_s=18000,filament_used_g=80,filament_waste_g=20,material_efficiency=0.75,success_rate=0.5,printing_s=3600,utilization=0.25,printers_seen=4i {Ms(Hour2)}",
            $"kpi,farm={farm},scope=farm,window=1d jobs_completed=4i,jobs_failed=1i,jobs_cancelled=1i,toys_completed=14i,jobs_without_filament=1i,print_time_s=23400,avg_print_time_per_toy_s=1671.4285714285713,filament_used_g=330.5,filament_waste_g=45.05,material_efficiency=0.8636913767019667,success_rate=0.6666666666666666,estimate_ratio=1.05,material_cost=3.5,material_cost_per_toy=0.25,printing_s=10800,utilization=0.03125,printers_seen=4i {Ms(Today)}",
            $"kpi,farm={farm},printer=mk4-01,scope=printer,window=1h jobs_completed=1i,jobs_failed=0i,jobs_cancelled=0i,toys_completed=4i,jobs_without_filament=0i,print_time_s=3600,printing_s=3600,utilization=1 {Ms(Hour1)}",
            $"kpi,farm={farm},scope=farm,window=1h jobs_completed=9i,toys_completed=99i {Ms(ThisHour.AddDays(-3))}",
            $"kpi,farm=other-{farm},scope=farm,window=1h jobs_completed=7i,toys_completed=77i {Ms(Hour1)}",
        };
        using var http = new HttpClient();
        using var body = new StringContent(string.Join('\n', lines), Encoding.UTF8);
        using var response = await http.PostAsync(new Uri($"{services.Influx.Url}/write?db={database}&precision=ms"), body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await Eventually.Until(() => services.Influx.QueryAsync(database, "SELECT count(jobs_completed) FROM kpi"), rows => rows.Count == 1 && rows[0].Number("count") == lines.Length, "the points, queryable");
        return (database, farm);
    }

    private static Dictionary<string, string> Settings(string url, string database, string farm) => new(StringComparer.Ordinal)
    {
        ["PrintFarm__DataFolder"] = ServerProcess.NewFolder("kpis"),
        ["PrintFarm__Farm"] = farm,
        ["PrintFarm__Influx__ApiVersion"] = "v1",
        ["PrintFarm__Influx__Url"] = url,
        ["PrintFarm__Influx__Database"] = database,
        ["PrintFarm__Influx__Timeout"] = "00:00:05",
    };

    private static void AssertCells(string row, params string[] cells)
    {
        var actual = row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cells, actual);
    }

    private static string Stamp(DateTimeOffset t) => t.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static string Iso(DateTimeOffset t) => t.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
}
