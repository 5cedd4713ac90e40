using Microsoft.Extensions.Time.Testing;
using PrintFarm.Worker.Diagnostics;

namespace PrintFarm.IntegrationTests.Diagnostics;

public sealed class LogThrottleTests
{
    [Fact]
    public void ShouldLog_lets_one_line_per_key_and_period_through_and_reports_what_it_held_back()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));

        Assert.True(throttle.ShouldLog("invalid_json", out var first));
        Assert.Equal(0, first);
        Assert.False(throttle.ShouldLog("invalid_json", out _));
        Assert.False(throttle.ShouldLog("invalid_json", out _));

        // Another reason has its own budget.
        Assert.True(throttle.ShouldLog("oversize", out _));

        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(throttle.ShouldLog("invalid_json", out _));

        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(throttle.ShouldLog("invalid_json", out var suppressed));
        Assert.Equal(3, suppressed);
    }
}
