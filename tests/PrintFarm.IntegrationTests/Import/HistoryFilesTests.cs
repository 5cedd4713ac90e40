using System.Text;
using PrintFarm.Core.Events;
using PrintFarm.Worker.Import;

namespace PrintFarm.IntegrationTests.Import;

/// <summary>The history readers alone: field by field, and arbitrary bytes in, no exception out.</summary>
public sealed class HistoryFilesTests
{
    [Theory]
    [InlineData("1h30m0s", 5400)]
    [InlineData("1h5m30s", 3930)]
    [InlineData("2d3h", 183600)]
    [InlineData("45m", 2700)]
    [InlineData("2400", 2400)]
    [InlineData("22.5", 22.5)]
    public void Seconds_reads_printjobhistory_durations(string text, double seconds) => Assert.Equal(seconds, HistoryFiles.Seconds(text));

    [Theory]
    [InlineData("1h30")]
    [InlineData("h")]
    [InlineData("-5")]
    [InlineData("soon")]
    public void Seconds_of_what_is_not_a_duration_is_null(string text) => Assert.Null(HistoryFiles.Seconds(text));

    [Fact]
    public void The_csv_fixture_gives_four_jobs_with_their_outcomes_filament_and_a_note_spanning_two_lines()
    {
        var skipped = new List<SkippedEntry>();
        using var reader = new StreamReader(Path.Combine(AppContext.BaseDirectory, "Import", "Fixtures", "printjobhistory.csv"));
        var jobs = HistoryFiles.ReadPrintJobHistoryCsv(reader, TimeZoneInfo.Utc, skipped);
        Assert.Equal([JobOutcome.Completed, JobOutcome.Cancelled, JobOutcome.Failed, JobOutcome.Completed], jobs.Select(j => j.Outcome));
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 9, 30, 0, TimeSpan.Zero), jobs[0].End);
        Assert.Equal((34.36, 11520.55), (jobs[0].FilamentGrams!.Value, jobs[0].FilamentMillimetres!.Value));
        Assert.Equal(("PETG", (double?)null, 2500.0), (jobs[2].Material, jobs[2].FilamentGrams, jobs[2].FilamentMillimetres!.Value));
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 12, 10, 0, TimeSpan.Zero), jobs[2].End); // the end column: later than start + duration (a pause)
        var skip = Assert.Single(skipped);
        Assert.Equal(7, skip.Line); // the note of line 4 goes on on line 5
    }

    [Fact]
    public void Csv_times_are_read_in_the_given_zone()
    {
        var csv = "\"Print result [success canceled failed]\",\"Start Datetime [dd.mm.yyyy hh:mm]\",\"Duration\",\"File Name\"\n\"success\",\"05.07.2026 10:00\",\"1h\",\"a.gcode\"\n";
        var jobs = HistoryFiles.ReadPrintJobHistoryCsv(new StringReader(csv), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"), []);
        Assert.Equal(new DateTimeOffset(2026, 7, 5, 8, 0, 0, TimeSpan.Zero), Assert.Single(jobs).Start);
    }

    [Fact]
    public void Moonraker_maps_every_terminal_status_and_skips_what_is_still_printing()
    {
        var skipped = new List<SkippedEntry>();
        using var stream = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Import", "Fixtures", "moonraker-history.json"));
        var jobs = HistoryFiles.ReadMoonraker(stream, skipped);
        Assert.Equal([JobOutcome.Completed, JobOutcome.Cancelled, JobOutcome.Failed, JobOutcome.Failed, JobOutcome.Completed], jobs.Select(j => j.Outcome));
        Assert.Equal(("00004B", 5400.0, 9645.3, 5700.0, "PLA"), (jobs[0].JobId, jobs[0].PrintTimeSeconds!.Value, jobs[0].FilamentMillimetres!.Value, jobs[0].EstimatedTimeSeconds!.Value, jobs[0].Material));
        Assert.Equal([6, 7], skipped.Select(s => s.Line));
        Assert.Contains("in_progress", skipped[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Arbitrary_bytes_never_throw()
    {
        var random = new Random(19);
        for (var i = 0; i < 300; i++)
        {
            var bytes = new byte[random.Next(0, 400)];
            random.NextBytes(bytes);
            if (i % 3 == 0)
            {
                // Past the outer shape, so the job reader sees the noise.
                bytes = [.. Encoding.UTF8.GetBytes("{\"result\":{\"jobs\":[{\"status\":\"completed\","), .. bytes];
            }

            var text = Encoding.UTF8.GetString(bytes);
            HistoryFiles.ReadTrace(new StringReader(text), []);
            HistoryFiles.ReadMoonraker(new MemoryStream(bytes), []);
            HistoryFiles.ReadPrintJobHistoryCsv(new StringReader("\"Print result [success canceled failed]\",\"Start Datetime [dd.mm.yyyy hh:mm]\",\"Duration\",\"File Name\"\n" + text), TimeZoneInfo.Utc, []);
        }
    }
}
