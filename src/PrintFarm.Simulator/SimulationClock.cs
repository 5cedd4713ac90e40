namespace PrintFarm.Simulator;

/// <summary>
/// Simulated time that moves only when told (<see cref="AdvanceTo"/>). A worker given this clock sees the simulator's
/// time as its own: receive times (the event time of Moonraker and Bambu, which carry no clock), windows, timers and
/// flushes all follow the simulation, whatever its speed. Timers fire, in due order, on the thread that advances.
/// </summary>
public sealed class SimulationClock : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<StepTimer> _timers = [];
    private DateTimeOffset _now;

    /// <summary>Creates a clock showing <paramref name="start"/>.</summary>
    public SimulationClock(DateTimeOffset start) => _now = start;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Moves to <paramref name="time"/> (never back), firing every timer due on the way in due order.</summary>
    public void AdvanceTo(DateTimeOffset time)
    {
        while (true)
        {
            StepTimer? due = null;
            lock (_gate)
            {
                foreach (var timer in _timers)
                {
                    if (timer.Due is { } d && d <= time && (due is null || d < due.Due))
                    {
                        due = timer;
                    }
                }

                if (due is null)
                {
                    if (time > _now)
                    {
                        _now = time;
                    }

                    return;
                }

                if (due.Due > _now)
                {
                    _now = due.Due.Value;
                }

                due.Due = due.Period > TimeSpan.Zero ? _now + due.Period : null;
            }

            due.Fire();
        }
    }

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new StepTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    private sealed class StepTimer(SimulationClock clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        public TimeSpan Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
            }

            return true;
        }

        public void Dispose()
        {
            lock (clock._gate)
            {
                Due = null;
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
