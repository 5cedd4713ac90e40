namespace PrintFarm.IntegrationTests.Support;

/// <summary>Polls a condition until it holds or a deadline passes: the only way these tests wait for results.</summary>
public static class Eventually
{
    /// <summary>Time between two polls.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Default deadline: generous, since a slow CI machine only makes the poll take longer.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Polls <paramref name="probe"/> until <paramref name="done"/> accepts its value; returns that value or fails with the last one.</summary>
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null, Func<T, string>? describe = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        T last;
        Exception? lastError = null;
        while (true)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last;
                }
            }
            // KeyNotFoundException: the condition read a field the row does not hold yet. InfluxDB 1.x applies a
            // point field by field, so a query that runs while a write is being applied can see part of a point
            // (InfluxRowExtensions.IsWholeJobPoint); such a row is not the one waited for, so poll again.
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or IOException or KeyNotFoundException)
            {
                last = default!;
                lastError = ex;
            }

            if (DateTime.UtcNow > deadline)
            {
                var state = lastError is not null ? lastError.Message : describe is not null && last is not null ? describe(last) : last?.ToString();
                Assert.Fail($"Timed out after {timeout ?? DefaultTimeout} waiting for {what}. Last seen: {state}");
            }

            await Task.Delay(PollInterval);
        }
    }
}
