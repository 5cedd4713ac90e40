using System.Text;
using System.Text.Json;
using PrintFarm.Core.Events;
using PrintFarm.Core.Ingestion;
using PrintFarm.Core.Ingestion.Native;
using PrintFarm.Core.Tests.Support;

namespace PrintFarm.Core.Tests.Ingestion.Native;

public sealed class NativeAdapterTests
{
    // A minimal valid body to which each test adds the field it is about.
    private const string Ts = "\"ts\":1717228800";

    private static readonly DateTimeOffset TsValue = DateTimeOffset.FromUnixTimeSeconds(1717228800);

    // ---- Fixtures: one realistic payload per message type -------------------------------------------------------

    [Fact]
    public void Process_JobStartedFixture_YieldsAJobStartedEventWithEveryField()
    {
        using var json = JsonDocument.Parse(NativeFixtures.Bytes(NativeFixtures.JobStarted));
        var root = json.RootElement;

        var (result, events) = NativeRun.Process(NativeFixtures.Bytes(NativeFixtures.JobStarted), printer: "prusa-mk4-03");

        Assert.True(result.Accepted);
        Assert.Null(result.Reason);
        var e = Assert.Single(events);
        Assert.Equal(EventKind.JobStarted, e.Kind);
        Assert.Equal("prusa-mk4-03", e.Printer);
        Assert.Equal(NativeAdapter.SourceName, e.Source);
        Assert.Equal(DateTimeOffset.Parse(root.GetProperty("ts").GetString()!, System.Globalization.CultureInfo.InvariantCulture), e.Timestamp);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
        Assert.Equal(root.GetProperty("job_id").GetString(), e.JobId);
        Assert.Equal(root.GetProperty("file").GetString(), e.File);
        Assert.Equal(root.GetProperty("toy").GetString(), e.Toy);
        Assert.Equal(root.GetProperty("quantity").GetInt32(), e.Quantity);
        // The adapter passes the material through; upper-casing is the catalog's job.
        Assert.Equal(root.GetProperty("material").GetString(), e.Material);
        Assert.Equal(root.GetProperty("estimated_time_s").GetDouble(), e.EstimatedTimeSeconds);
        Assert.Null(e.Outcome);
        Assert.Equal(FilamentSource.Unknown, e.FilamentSource);
        Assert.False(e.HasTelemetry);
    }

    [Fact]
    public void Process_JobProgressFixture_YieldsProgressAndTemperatures()
    {
        using var json = JsonDocument.Parse(NativeFixtures.Bytes(NativeFixtures.JobProgress));
        var root = json.RootElement;

        var (result, events) = NativeRun.Process(NativeFixtures.Bytes(NativeFixtures.JobProgress));

        Assert.True(result.Accepted);
        var e = Assert.Single(events);
        Assert.Equal(EventKind.JobProgress, e.Kind);
        // Epoch seconds (below 1e11).
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(root.GetProperty("ts").GetInt64()), e.Timestamp);
        Assert.Equal(root.GetProperty("job_id").GetString(), e.JobId);
        Assert.Equal(root.GetProperty("progress_pct").GetDouble(), e.ProgressPercent);
        Assert.Equal(root.GetProperty("state").GetString(), e.State);
        Assert.Equal(root.GetProperty("nozzle_c").GetDouble(), e.NozzleCelsius);
        Assert.Equal(root.GetProperty("nozzle_target_c").GetDouble(), e.NozzleTargetCelsius);
        Assert.Equal(root.GetProperty("bed_c").GetDouble(), e.BedCelsius);
        Assert.Equal(root.GetProperty("bed_target_c").GetDouble(), e.BedTargetCelsius);
        Assert.True(e.HasTelemetry);
    }

    [Fact]
    public void Process_JobFinishedFixture_YieldsOutcomeTimesAndFilament()
    {
        using var json = JsonDocument.Parse(NativeFixtures.Bytes(NativeFixtures.JobFinished));
        var root = json.RootElement;

        var (result, events) = NativeRun.Process(NativeFixtures.Bytes(NativeFixtures.JobFinished));

        Assert.True(result.Accepted);
        var e = Assert.Single(events);
        Assert.Equal(EventKind.JobFinished, e.Kind);
        // Epoch milliseconds (from 1e11).
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(root.GetProperty("ts").GetInt64()), e.Timestamp);
        Assert.Equal(JobOutcome.Completed, e.Outcome);
        Assert.Equal(root.GetProperty("job_id").GetString(), e.JobId);
        Assert.Equal(root.GetProperty("file").GetString(), e.File);
        Assert.Equal(root.GetProperty("toy").GetString(), e.Toy);
        Assert.Equal(root.GetProperty("quantity").GetInt32(), e.Quantity);
        Assert.Equal(root.GetProperty("material").GetString(), e.Material);
        Assert.Equal(root.GetProperty("print_time_s").GetDouble(), e.PrintTimeSeconds);
        Assert.Equal(root.GetProperty("filament_g").GetDouble(), e.FilamentGrams);
        Assert.Equal(root.GetProperty("filament_mm").GetDouble(), e.FilamentMillimetres);
        Assert.Equal(root.GetProperty("estimated_time_s").GetDouble(), e.EstimatedTimeSeconds);
        Assert.Equal(FilamentSource.Measured, e.FilamentSource);
    }

    [Fact]
    public void Process_StatusFixture_YieldsAStatusEvent()
    {
        using var json = JsonDocument.Parse(NativeFixtures.Bytes(NativeFixtures.Status));
        var root = json.RootElement;

        var (result, events) = NativeRun.Process(NativeFixtures.Bytes(NativeFixtures.Status));

        Assert.True(result.Accepted);
        var e = Assert.Single(events);
        Assert.Equal(EventKind.Status, e.Kind);
        Assert.Equal(DateTimeOffset.Parse(root.GetProperty("ts").GetString()!, System.Globalization.CultureInfo.InvariantCulture), e.Timestamp);
        Assert.Equal(root.GetProperty("state").GetString(), e.State);
        Assert.Equal(root.GetProperty("nozzle_c").GetDouble(), e.NozzleCelsius);
        Assert.Equal(root.GetProperty("nozzle_target_c").GetDouble(), e.NozzleTargetCelsius);
        Assert.Equal(root.GetProperty("bed_c").GetDouble(), e.BedCelsius);
        Assert.Equal(root.GetProperty("bed_target_c").GetDouble(), e.BedTargetCelsius);
        Assert.Null(e.JobId);
        Assert.Null(e.ProgressPercent);
        Assert.Null(e.Online);
    }

    // ---- Fields -----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("job_started", EventKind.JobStarted)]
    [InlineData("job_progress", EventKind.JobProgress)]
    [InlineData("status", EventKind.Status)]
    public void Process_EachNonFinishType_MapsToItsKind(string type, EventKind kind)
    {
        var e = NativeRun.Single($$"""{"type":"{{type}}",{{Ts}}}""");

        Assert.Equal(kind, e.Kind);
        Assert.Equal(TsValue, e.Timestamp);
    }

    [Theory]
    [InlineData("completed", JobOutcome.Completed)]
    [InlineData("failed", JobOutcome.Failed)]
    [InlineData("cancelled", JobOutcome.Cancelled)]
    [InlineData("canceled", JobOutcome.Cancelled)]
    public void Process_JobFinishedOutcome_IsMapped(string outcome, JobOutcome expected)
    {
        var e = NativeRun.Single($$"""{"type":"job_finished",{{Ts}},"outcome":"{{outcome}}"}""");

        Assert.Equal(EventKind.JobFinished, e.Kind);
        Assert.Equal(expected, e.Outcome);
    }

    [Fact]
    public void Process_OutcomeOnANonFinishEvent_IsDropped()
    {
        var e = NativeRun.Single($$"""{"type":"status",{{Ts}},"outcome":"failed"}""");

        Assert.Null(e.Outcome);
    }

    [Fact]
    public void Process_IsoTimestampWithOffset_IsConvertedToUtc()
    {
        var e = NativeRun.Single("""{"type":"status","ts":"2024-06-01T10:00:00+02:00"}""");

        Assert.Equal(new DateTimeOffset(2024, 6, 1, 8, 0, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
    }

    [Fact]
    public void Process_EpochMillisecondsTimestamp_IsRead()
    {
        var ms = TsValue.ToUnixTimeMilliseconds() + 750;

        var e = NativeRun.Single($$"""{"type":"status","ts":{{ms}}}""");

        Assert.Equal(TsValue.AddMilliseconds(750), e.Timestamp);
    }

    [Fact]
    public void Process_OnlyFilamentMillimetres_IsMeasured()
    {
        var e = NativeRun.Single($$"""{"type":"job_finished",{{Ts}},"outcome":"failed","filament_mm":1234.5}""");

        Assert.Equal(1234.5, e.FilamentMillimetres);
        Assert.Null(e.FilamentGrams);
        Assert.Equal(FilamentSource.Measured, e.FilamentSource);
    }

    [Fact]
    public void Process_OnlyFilamentGrams_IsMeasured()
    {
        var e = NativeRun.Single($$"""{"type":"job_finished",{{Ts}},"outcome":"failed","filament_g":0}""");

        Assert.Equal(0, e.FilamentGrams);
        Assert.Equal(FilamentSource.Measured, e.FilamentSource);
    }

    [Fact]
    public void Process_NullForOptionalFields_IsTreatedAsAbsent()
    {
        var e = NativeRun.Single($$"""
            {"type":"job_finished",{{Ts}},"outcome":"completed","job_id":null,"file":null,"toy":null,"material":null,"state":null,
             "quantity":null,"print_time_s":null,"filament_g":null,"filament_mm":null,"estimated_time_s":null,"progress_pct":null,
             "nozzle_c":null,"nozzle_target_c":null,"bed_c":null,"bed_target_c":null}
            """);

        Assert.Null(e.JobId);
        Assert.Null(e.File);
        Assert.Null(e.Toy);
        Assert.Null(e.Material);
        Assert.Null(e.State);
        Assert.Null(e.Quantity);
        Assert.Null(e.PrintTimeSeconds);
        Assert.Null(e.FilamentGrams);
        Assert.Null(e.FilamentMillimetres);
        Assert.Null(e.EstimatedTimeSeconds);
        Assert.Null(e.ProgressPercent);
        Assert.Null(e.NozzleCelsius);
        Assert.Null(e.NozzleTargetCelsius);
        Assert.Null(e.BedCelsius);
        Assert.Null(e.BedTargetCelsius);
        Assert.Equal(FilamentSource.Unknown, e.FilamentSource);
    }

    [Fact]
    public void Process_EmptyStrings_AreTreatedAsAbsent()
    {
        var e = NativeRun.Single($$"""{"type":"job_started",{{Ts}},"job_id":"","file":"","toy":"","material":"","state":""}""");

        Assert.Null(e.JobId);
        Assert.Null(e.File);
        Assert.Null(e.Toy);
        Assert.Null(e.Material);
        Assert.Null(e.State);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(100.0)]
    [InlineData(57.25)]
    public void Process_ProgressWithinZeroToHundred_IsAccepted(double progress)
    {
        var e = NativeRun.Single($$"""{"type":"job_progress",{{Ts}},"progress_pct":{{progress.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");

        Assert.Equal(progress, e.ProgressPercent);
    }

    [Fact]
    public void Process_NegativeTemperatureAboveMinus300_IsAccepted()
    {
        // A disconnected thermistor reads far below zero; the adapter keeps it and lets dashboards show it.
        var e = NativeRun.Single($$"""{"type":"status",{{Ts}},"nozzle_c":-14.5,"bed_c":-300}""");

        Assert.Equal(-14.5, e.NozzleCelsius);
        Assert.Equal(-300, e.BedCelsius);
    }

    [Fact]
    public void Process_QuantityOne_IsAccepted()
    {
        var e = NativeRun.Single($$"""{"type":"job_started",{{Ts}},"quantity":1}""");

        Assert.Equal(1, e.Quantity);
    }

    [Fact]
    public void Process_EscapedPropertyName_IsRecognised()
    {
        var e = NativeRun.Single($$"""{"\u0074ype":"status",{{Ts}},"st\u0061te":"idle"}""");

        Assert.Equal(EventKind.Status, e.Kind);
        Assert.Equal("idle", e.State);
    }

    [Fact]
    public void Process_UnicodeStrings_AreKept()
    {
        var e = NativeRun.Single($$"""{"type":"job_started",{{Ts}},"toy":"drache groß 🐉","file":"d\u00fcse.gcode"}""");

        Assert.Equal("drache groß 🐉", e.Toy);
        Assert.Equal("düse.gcode", e.File);
    }

    [Fact]
    public void Process_UnknownFieldsOfEveryShape_AreIgnored()
    {
        var e = NativeRun.Single($$"""
            {"extra_string":"x","extra_number":1.5e3,"extra_bool":true,"extra_null":null,
             "extra_object":{"a":{"b":[1,{"c":"d"}]},"type":"job_finished","ts":"nope"},
             "extra_array":[[],{},[1,2,[3]],"type"],
             "type":"status",{{Ts}},"types":"job_finished","ts_ms":"bad","Type":"bad","state":"idle"}
            """);

        Assert.Equal(EventKind.Status, e.Kind);
        Assert.Equal(TsValue, e.Timestamp);
        Assert.Equal("idle", e.State);
    }

    [Fact]
    public void Process_UnknownFieldWithLineBreak_IsIgnored()
    {
        var e = NativeRun.Single($$"""{"type":"status",{{Ts}},"note":"line one\nline two"}""");

        Assert.Equal(EventKind.Status, e.Kind);
    }

    [Fact]
    public void Process_WhitespaceAroundTheObject_IsAccepted()
    {
        var e = NativeRun.Single($$""" {{"\r\n\t"}} {"type":"status",{{Ts}}} {{"\n"}} """);

        Assert.Equal(EventKind.Status, e.Kind);
    }

    [Fact]
    public void Process_PrinterComesFromTheTopicMatch()
    {
        var (_, events) = NativeRun.Process($$"""{"type":"status",{{Ts}},"printer":"from-payload"}""", printer: "from-topic");

        Assert.Equal("from-topic", Assert.Single(events).Printer);
    }

    // ---- Rejections -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("{\"type\": status}")]
    [InlineData("{'type':'status'}")]
    [InlineData("{\"type\":\"status\",}")]
    [InlineData("{\"type\":\"status\" \"ts\":1}")]
    [InlineData("{type:\"status\"}")]
    [InlineData("{\"type\":\"status\", // comment\n\"ts\":1}")]
    [InlineData("{\"ts\":01}")]
    [InlineData("{\"ts\":NaN}")]
    public void Process_InvalidJson_IsRejectedAsInvalidJson(string payload)
    {
        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_EmptyPayload_IsRejectedAsInvalidJson()
    {
        NativeRun.Rejected([], RejectReasons.InvalidJson);
    }

    [Theory]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800")]
    [InlineData("{\"type\":\"status\",\"ts\":")]
    [InlineData("{\"type\":\"sta")]
    [InlineData("{\"type\"")]
    [InlineData("{")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800,\"x\":{\"a\":[1,2")]
    public void Process_TruncatedJson_IsRejectedAsInvalidJson(string payload)
    {
        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_EveryTruncationOfEveryFixture_IsRejectedAsInvalidJson()
    {
        foreach (var name in NativeFixtures.All)
        {
            var full = NativeFixtures.Bytes(name);
            var end = Array.LastIndexOf(full, (byte)'}');
            for (var length = 0; length < end; length++)
            {
                var (result, events) = NativeRun.Process(full[..length]);

                Assert.False(result.Accepted, $"{name} cut to {length} bytes was accepted");
                Assert.Equal(RejectReasons.InvalidJson, result.Reason);
                Assert.Empty(events);
            }
        }
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"type\":\"status\",\"ts\":1717228800}]")]
    [InlineData("\"status\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void Process_NotAnObject_IsRejectedAsInvalidJson(string payload)
    {
        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Theory]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800} x")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800}{}")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800}}")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800},")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800} 1")]
    [InlineData("{\"type\":\"status\",\"ts\":1717228800}\0")]
    public void Process_TrailingGarbage_IsRejectedAsInvalidJson(string payload)
    {
        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_NestingDeeperThanTheAdaptersLimit_IsRejectedAsInvalidJson()
    {
        // One level past the limit every adapter shares (the root object is the first level).
        var levels = PrintFarm.Core.Ingestion.JsonValues.MaxDepth;
        var deep = new string('[', levels) + new string(']', levels);

        NativeRun.Rejected($$"""{"type":"status",{{Ts}},"x":{{deep}}}""", RejectReasons.InvalidJson);
    }

    [Theory]
    [InlineData("{\"ts\":1717228800}")]
    [InlineData("{\"type\":null,\"ts\":1717228800}")]
    [InlineData("{\"type\":\"\",\"ts\":1717228800}")]
    [InlineData("{}")]
    public void Process_MissingType_IsRejectedAsMissingField(string payload)
    {
        var result = NativeRun.Rejected(payload, RejectReasons.MissingField);

        Assert.Contains("type", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("job_start")]
    [InlineData("JOB_STARTED")]
    [InlineData("heartbeat")]
    [InlineData(" status")]
    public void Process_UnknownType_IsRejectedAsUnknownType(string type)
    {
        NativeRun.Rejected($$"""{"type":"{{type}}",{{Ts}}}""", RejectReasons.UnknownType);
    }

    [Fact]
    public void Process_VeryLongUnknownType_HasATruncatedDetail()
    {
        var type = new string('x', 500);

        var result = NativeRun.Rejected($$"""{"type":"{{type}}",{{Ts}}}""", RejectReasons.UnknownType);

        Assert.DoesNotContain(type, result.Detail, StringComparison.Ordinal);
        Assert.Contains(type[..40], result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("job_started")]
    [InlineData("job_progress")]
    [InlineData("job_finished")]
    [InlineData("status")]
    public void Process_MissingTs_IsRejectedAsMissingField(string type)
    {
        var result = NativeRun.Rejected($$"""{"type":"{{type}}","outcome":"completed"}""", RejectReasons.MissingField);

        Assert.Contains("ts", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_JobFinishedWithoutOutcome_IsRejectedAsMissingField()
    {
        var result = NativeRun.Rejected($$"""{"type":"job_finished",{{Ts}},"job_id":"A"}""", RejectReasons.MissingField);

        Assert.Contains("outcome", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type")]
    [InlineData("job_id")]
    [InlineData("file")]
    [InlineData("toy")]
    [InlineData("material")]
    [InlineData("state")]
    public void Process_StringFieldGivenAnotherType_IsRejectedAsInvalidField(string field)
    {
        foreach (var value in new[] { "5", "1.5", "true", "{}", "[\"x\"]", "{\"a\":[1,2]}" })
        {
            var result = NativeRun.Rejected($$"""{"type":"status",{{Ts}},"{{field}}":{{value}}}""", RejectReasons.InvalidField);

            Assert.Contains(field, result.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("print_time_s")]
    [InlineData("filament_g")]
    [InlineData("filament_mm")]
    [InlineData("estimated_time_s")]
    [InlineData("progress_pct")]
    [InlineData("nozzle_c")]
    [InlineData("nozzle_target_c")]
    [InlineData("bed_c")]
    [InlineData("bed_target_c")]
    public void Process_NumberFieldGivenAnotherType_IsRejectedAsInvalidField(string field)
    {
        foreach (var value in new[] { "\"5400\"", "\"\"", "true", "{}", "[1]", "{\"v\":1}" })
        {
            var result = NativeRun.Rejected($$"""{"type":"status",{{Ts}},"{{field}}":{{value}}}""", RejectReasons.InvalidField);

            Assert.Contains(field, result.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("print_time_s", "-1")]
    [InlineData("filament_g", "-0.5")]
    [InlineData("filament_mm", "-10")]
    [InlineData("estimated_time_s", "-60")]
    [InlineData("progress_pct", "-0.1")]
    [InlineData("progress_pct", "100.01")]
    [InlineData("progress_pct", "250")]
    [InlineData("nozzle_c", "-300.5")]
    [InlineData("bed_target_c", "-1000")]
    [InlineData("print_time_s", "1e400")]
    public void Process_NumberOutOfRange_IsRejectedAsInvalidField(string field, string value)
    {
        var result = NativeRun.Rejected($$"""{"type":"status",{{Ts}},"{{field}}":{{value}}}""", RejectReasons.InvalidField);

        Assert.Contains(field, result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"2\"")]
    [InlineData("2147483648")]
    [InlineData("true")]
    [InlineData("[2]")]
    public void Process_QuantityNotAPositiveInteger_IsRejectedAsInvalidField(string value)
    {
        var result = NativeRun.Rejected($$"""{"type":"job_started",{{Ts}},"quantity":{{value}}}""", RejectReasons.InvalidField);

        Assert.Contains("quantity", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"aborted\"")]
    [InlineData("\"Completed\"")]
    [InlineData("\"\"")]
    [InlineData("1")]
    [InlineData("null")]
    [InlineData("{\"value\":\"completed\"}")]
    public void Process_InvalidOutcome_IsRejectedAsInvalidField(string value)
    {
        var result = NativeRun.Rejected($$"""{"type":"job_finished",{{Ts}},"outcome":{{value}}}""", RejectReasons.InvalidField);

        Assert.Contains("outcome", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"yesterday\"")]
    [InlineData("\"\"")]
    [InlineData("-1")]
    [InlineData("1e20")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("[1717228800]")]
    [InlineData("{\"s\":1717228800}")]
    public void Process_InvalidTs_IsRejectedAsInvalidField(string value)
    {
        var result = NativeRun.Rejected($$"""{"type":"status","ts":{{value}}}""", RejectReasons.InvalidField);

        Assert.Contains("ts", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_TypeWithEscapedLineBreak_IsRejectedAsInvalidField()
    {
        foreach (var value in new[] { @"a\nb", @"a\rb", @"trailing\n", @"\r\n" })
        {
            var result = NativeRun.Rejected($$"""{"type":"{{value}}",{{Ts}}}""", RejectReasons.InvalidField);

            Assert.Contains("type", result.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("job_id")]
    [InlineData("file")]
    [InlineData("toy")]
    [InlineData("material")]
    [InlineData("state")]
    public void Process_NameWithEscapedLineBreak_IsKeptWithTheControlCharactersReplaced(string field)
    {
        foreach (var (value, expected) in new[] { (@"a\nb", "a b"), (@"a\rb", "a b"), (@"trailing\n", "trailing"), (@"x\r\ny", "x  y") })
        {
            var e = NativeRun.Single($$"""{"type":"job_started",{{Ts}},"{{field}}":"{{value}}"}""");

            var actual = field switch { "job_id" => e.JobId, "file" => e.File, "toy" => e.Toy, "material" => e.Material, _ => e.State };
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Process_NameOfOnlyControlCharacters_IsAbsent()
    {
        var e = NativeRun.Single($$"""{"type":"job_started",{{Ts}},"toy":"\r\n\t"}""");

        Assert.Null(e.Toy);
    }

    [Fact]
    public void Process_RawLineBreakInsideAString_IsRejectedAsInvalidJson()
    {
        NativeRun.Rejected($$"""{"type":"status",{{Ts}},"toy":"a{{"\n"}}b"}""", RejectReasons.InvalidJson);
    }

    [Theory]
    [InlineData("toy")]
    [InlineData("type")]
    [InlineData("state")]
    public void Process_InvalidUtf8InAKnownString_IsRejectedAsInvalidJson(string field)
    {
        foreach (var bad in new byte[][] { [0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x80] })
        {
            var payload = Utf8($$"""{"type":"status",{{Ts}},"{{field}}":"dra""", bad, "gon\"}");

            NativeRun.Rejected(payload, RejectReasons.InvalidJson);
        }
    }

    [Fact]
    public void Process_InvalidUtf8InAnUnknownField_IsRejectedAsInvalidJson()
    {
        // A payload that is not UTF-8 is not JSON (RFC 8259 §8.1), whichever field the bad bytes are in.
        var payload = Utf8($$"""{"type":"status",{{Ts}},"note":"a""", [0xFF, 0xFE], "b\"}");

        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_InvalidUtf8InAPropertyName_IsRejectedAsInvalidJson()
    {
        var payload = Utf8($$"""{"type":"status",{{Ts}},"no""", [0xFF], "te\":1}");

        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_Utf8ByteOrderMark_IsRejectedAsInvalidJson()
    {
        var payload = Utf8(string.Empty, [0xEF, 0xBB, 0xBF], $$"""{"type":"status",{{Ts}}}""");

        NativeRun.Rejected(payload, RejectReasons.InvalidJson);
    }

    [Fact]
    public void Process_FirstInvalidFieldWins_AndNoEventIsProduced()
    {
        var (result, events) = NativeRun.Process($$"""{"type":"status",{{Ts}},"quantity":0,"progress_pct":"x"}""");

        Assert.False(result.Accepted);
        Assert.Equal(RejectReasons.InvalidField, result.Reason);
        Assert.Contains("quantity", result.Detail, StringComparison.Ordinal);
        Assert.Empty(events);
    }

    // ---- Construction -----------------------------------------------------------------------------------------

    [Fact]
    public void Constructor_NoTopics_UsesTheDefaultTopic()
    {
        var adapter = new NativeAdapter();

        Assert.Equal(NativeAdapter.SourceName, adapter.Source);
        var topic = Assert.Single(adapter.Topics);
        Assert.Equal(NativeAdapter.DefaultTopic, topic.Pattern);
        Assert.Equal("printfarm/+/event", topic.SubscriptionFilter);
    }

    [Fact]
    public void Constructor_EmptyTopicList_UsesTheDefaultTopic()
    {
        var adapter = new NativeAdapter([]);

        Assert.Equal(NativeAdapter.DefaultTopic, Assert.Single(adapter.Topics).Pattern);
    }

    [Fact]
    public void Constructor_CustomTopics_AreAllUsed()
    {
        var adapter = new NativeAdapter(["farm/{printer}/json", "legacy/{printer}"]);

        Assert.Equal(["farm/{printer}/json", "legacy/{printer}"], adapter.Topics.Select(t => t.Pattern));
    }

    [Fact]
    public void Constructor_InvalidTopic_Throws()
    {
        Assert.Throws<ArgumentException>(() => new NativeAdapter(["farm/+/json"]));
    }

    private static byte[] Utf8(string before, byte[] middle, string after) =>
        [.. Encoding.UTF8.GetBytes(before), .. middle, .. Encoding.UTF8.GetBytes(after)];
}
