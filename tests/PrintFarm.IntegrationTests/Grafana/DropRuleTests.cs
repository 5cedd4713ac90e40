using System.Globalization;
using PrintFarm.Core.Events;
using PrintFarm.IntegrationTests.Support;

namespace PrintFarm.IntegrationTests.Grafana;

/// <summary>
/// The provisioned drop rules and the baseline panel against a real InfluxDB, on a week of farm data written as the
/// worker writes it. Every rule's value is checked against the figure computed straight from the jobs, for every
/// subject it returns, and the subjects that fire are the ones whose jobs went bad.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class DropRuleTests(ServicesFixture services)
{
    // Evaluated at 14:30 on day 7: recent = windows 11:00–13:00, baseline = the windows of the 7 days before 11:00.
    private static readonly DateTimeOffset Now = DropWeek.Day.AddDays(7).AddHours(14).AddMinutes(30);

    [Fact]
    public async Task Every_drop_rule_compares_each_subjects_last_three_hours_with_its_7_days_before()
    {
        var (week, database) = await SeedAsync();
        var rules = GrafanaFiles.AlertRules().Where(r => r.Uid.Contains("-drop-", StringComparison.Ordinal) || r.Uid.Contains("-rise-", StringComparison.Ordinal)).ToList();
        Assert.Equal(12, rules.Count);
        var firing = new List<string>();
        foreach (var rule in rules)
        {
            var scope = rule.Uid[(rule.Uid.LastIndexOf('-') + 1)..];
            var instances = await RuleEvaluation.EvaluateAsync(services.Influx, rule, database, Now);
            var expected = week.Subjects(scope)
                .Select(subject => (Subject: subject, Expected: Expect(rule.Uid, week.Recent(scope, subject, Now), week.Baseline(scope, subject, Now))))
                .Where(e => e.Expected is not null)
                .ToList();
            Assert.True(expected.Count > 0, $"{rule}: the week should give it something to judge");
            Assert.Equal(expected.Select(e => e.Subject).Order(), instances.Select(i => Subject(i, scope)).Order());
            foreach (var (subject, e) in expected)
            {
                var instance = instances.Single(i => Subject(i, scope) == subject);
                Assert.Equal(e!.Value.Recent, instance.Reduced["RA"], 9);
                Assert.Equal(e.Value.Baseline, instance.Reduced["RB"], 9);
                if (rule.Fires(instance.Value))
                {
                    firing.Add($"{rule.Uid}:{subject}");
                }
            }
        }

        // mk4-02 (castle, PLA) fails everything since 10:00; x1c-01 (rocket, PETG) prints 50 % slower; mk4-01 is as usual.
        Assert.Equal(
            [
                "printfarm-efficiency-drop-farm:" + week.Farm, "printfarm-efficiency-drop-material:PLA", "printfarm-efficiency-drop-printer:mk4-02", "printfarm-efficiency-drop-toy:castle",
                "printfarm-print-time-rise-farm:" + week.Farm, "printfarm-print-time-rise-material:PETG", "printfarm-print-time-rise-material:PLA", "printfarm-print-time-rise-printer:x1c-01", "printfarm-print-time-rise-toy:rocket",
                "printfarm-success-rate-drop-farm:" + week.Farm, "printfarm-success-rate-drop-material:PLA", "printfarm-success-rate-drop-printer:mk4-02", "printfarm-success-rate-drop-toy:castle",
            ],
            firing.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_baseline_table_shows_each_printers_last_three_hours_against_its_7_days_before()
    {
        var (week, database) = await SeedAsync();
        var to = Now;
        var t = new GrafanaTemplate(to.AddHours(-12), to, TimeSpan.FromHours(1)).With("farm", week.Farm).With("window", "1h").WithAll("printer", ".*");
        var panel = GrafanaFiles.PanelQueries().Where(q => q.PanelTitle == "Material efficiency by printer vs 7-day baseline").ToList();
        var recent = await services.Influx.QueryAsync(database, t.Render(panel.Single(q => q.RefId == "A").Query));
        var baseline = await services.Influx.QueryAsync(database, t.Render(panel.Single(q => q.RefId == "B").Query));
        Assert.Equal(DropWeek.Printers, recent.Select(r => r.Text("printer")));
        Assert.Equal(DropWeek.Printers, baseline.Select(r => r.Text("printer")));
        foreach (var printer in DropWeek.Printers)
        {
            // Windows stamped in (to − 3 h, to] against (to − 171 h, to − 3 h].
            var windows = (DateTimeOffset from, DateTimeOffset until) => FarmDay.Expect(week.Jobs.Where(j => j.Printer == printer && DropWeek.WindowOf(j) > from && DropWeek.WindowOf(j) <= until));
            Assert.Equal(windows(to.AddHours(-3), to).Efficiency, recent.Single(r => r.Text("printer") == printer).Number("last 3 h"), 9);
            Assert.Equal(windows(to.AddHours(-171), to.AddHours(-3)).Efficiency, baseline.Single(r => r.Text("printer") == printer).Number("7-day baseline"), 9);
        }

        Assert.True(recent.Single(r => r.Text("printer") == "mk4-02").Number("last 3 h") < 0.1);
    }

    /// <summary>The rule's recent and baseline value of one subject by the definitions, or null below the minimum volume.</summary>
    private static (double Recent, double Baseline)? Expect(string uid, Totals recent, Totals baseline)
    {
        if (uid.StartsWith("printfarm-efficiency-drop", StringComparison.Ordinal))
        {
            return recent.Ended >= 3 && recent.FilamentUsed >= 50 && baseline.Ended >= 10 && baseline.FilamentUsed >= 200 ? (recent.Efficiency, baseline.Efficiency) : null;
        }

        if (uid.StartsWith("printfarm-success-rate-drop", StringComparison.Ordinal))
        {
            return recent.Ended >= 3 && baseline.Ended >= 10 ? (recent.SuccessRate, baseline.SuccessRate) : null;
        }

        return recent.Ended >= 3 && recent.Toys > 0 && baseline.Ended >= 10 && baseline.Toys > 0
            ? (recent.PrintTimeSeconds / recent.Toys, baseline.PrintTimeSeconds / baseline.Toys)
            : null;
    }

    private static string Subject(RuleInstance instance, string scope) => scope == "farm" ? instance.Label("farm") : instance.Label(scope);

    private async Task<(DropWeek Week, string Database)> SeedAsync()
    {
        var database = "drops_" + Guid.NewGuid().ToString("N");
        var week = new DropWeek("farm-" + Guid.NewGuid().ToString("N")[..8]);
        await services.Influx.CreateDatabaseAsync(database);
        await FarmDay.WriteLinesAsync(services.Influx.Url, database, FarmDay.WorkerOutput(week.Farm, week.Jobs, []).Lines);
        return (week, database);
    }

    /// <summary>
    /// A week and a day of three printers, one 50-minute job an hour each, every fourth one failing early (10 g).
    /// From 10:00 on day 7 mk4-02 fails every job late (50 g) and x1c-01 needs 50 % longer per job.
    /// </summary>
    private sealed class DropWeek
    {
        public static readonly DateTimeOffset Day = new(2026, 3, 9, 0, 0, 0, TimeSpan.Zero);

        public static readonly IReadOnlyList<string> Printers = ["mk4-01", "mk4-02", "x1c-01"];

        private static readonly (string Toy, string Material)[] Loads = [("dragon", "PLA"), ("castle", "PLA"), ("rocket", "PETG")];

        public DropWeek(string farm)
        {
            Farm = farm;
            var bad = Day.AddDays(7).AddHours(10);
            Jobs = Enumerable.Range(0, (7 * 24) + 16).SelectMany(h => Enumerable.Range(0, Printers.Count).Select(p =>
            {
                var end = Day.AddHours(h).AddMinutes(30);
                var late = end >= bad;
                var outcome = p == 1 && late ? JobOutcome.Failed : h % 4 == 3 ? JobOutcome.Failed : JobOutcome.Completed;
                var grams = outcome == JobOutcome.Completed ? 50 : p == 1 && late ? 50 : 10;
                var printTime = p == 2 && late ? 4500 : 3000;
                return new EndedJob
                {
                    Printer = Printers[p],
                    Source = "native",
                    JobId = string.Create(CultureInfo.InvariantCulture, $"{Printers[p]}-{h}"),
                    File = Loads[p].Toy + ".gcode",
                    Toy = Loads[p].Toy,
                    Quantity = 1,
                    Material = Loads[p].Material,
                    Outcome = outcome,
                    Start = end.AddSeconds(-printTime),
                    End = end,
                    PrintTimeSeconds = printTime,
                    FilamentGrams = grams,
                    FilamentSource = FilamentSource.Measured,
                };
            })).ToList();
        }

        public string Farm { get; }

        public IReadOnlyList<EndedJob> Jobs { get; }

        public static DateTimeOffset WindowOf(EndedJob job) => new(job.End.UtcTicks - (job.End.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);

        public IEnumerable<string> Subjects(string scope) => scope switch
        {
            "farm" => [Farm],
            "printer" => Printers,
            "toy" => Loads.Select(l => l.Toy),
            _ => Loads.Select(l => l.Material).Distinct(),
        };

        /// <summary>Jobs of the windows stamped in the rule's recent range [now − 4 h, now − 1 h].</summary>
        public Totals Recent(string scope, string subject, DateTimeOffset now) => Range(scope, subject, now.AddHours(-4), now.AddHours(-1));

        /// <summary>Jobs of the windows stamped in the baseline range [now − 7 d 4 h, now − 4 h − 1 s].</summary>
        public Totals Baseline(string scope, string subject, DateTimeOffset now) => Range(scope, subject, now.AddHours(-4).AddDays(-7), now.AddHours(-4).AddSeconds(-1));

        private Totals Range(string scope, string subject, DateTimeOffset from, DateTimeOffset to) =>
            FarmDay.Expect(Jobs.Where(j => WindowOf(j) >= from && WindowOf(j) <= to && scope switch
            {
                "farm" => true,
                "printer" => j.Printer == subject,
                "toy" => j.Toy == subject,
                _ => j.Material == subject,
            }));
    }
}
