namespace PrintFarm.Simulator.Publishing;

/// <summary>
/// Plays a simulation: paces its messages by <see cref="Speed"/> (simulated seconds per real second; 0 for as fast
/// as possible), advances a <see cref="SimulationClock"/> to each message's time when one is given, and hands the
/// messages to a publish function. With <see cref="AwaitDelivered"/>, after each simulated second's messages it
/// waits until the consumer has them, so the consumer's receive time is exactly the simulated time.
/// </summary>
public sealed class SimulationRunner(FarmSimulation simulation, Func<SimMessage, CancellationToken, Task> publish)
{
    private long _published;
    private long _simulatedTicks;

    /// <summary>Simulated seconds per real second; 0 or less: no pacing. Default 60.</summary>
    public double Speed { get; init; } = 60;

    /// <summary>Messages before this simulated time are played without pacing (a warm-up, so a board has data at once). Default none.</summary>
    public DateTimeOffset? FastForwardUntil { get; init; }

    /// <summary>Clock to advance to each message's time, or <see langword="null"/>.</summary>
    public SimulationClock? Clock { get; init; }

    /// <summary>Real time for pacing. Default the system clock.</summary>
    public TimeProvider RealTime { get; init; } = TimeProvider.System;

    /// <summary>Called with the number of messages published so far, after each simulated second; returns when the consumer has them.</summary>
    public Func<long, CancellationToken, Task>? AwaitDelivered { get; init; }

    /// <summary>Messages published so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Simulated second whose messages were all published last, or <see langword="null"/> before the first.</summary>
    public DateTimeOffset? SimulatedTime => Interlocked.Read(ref _simulatedTicks) is var t && t == 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);

    /// <summary>Plays the whole trace (or until cancelled). Afterwards the clock, if any, keeps moving at <see cref="Speed"/> until cancelled when <paramref name="keepClockRunning"/>.</summary>
    public async Task RunAsync(bool keepClockRunning = false, CancellationToken cancellationToken = default)
    {
        var simStart = FastForwardUntil is { } warm && warm > simulation.Options.Start ? warm : simulation.Options.Start;
        long? realStart = null;
        DateTimeOffset? second = null;
        foreach (var message in simulation.Messages())
        {
            if (second != message.Time)
            {
                // Stop only between two simulated seconds: a second's messages (a cancel's print_error and FAILED,
                // say) are published together or not at all, so SimulatedTime is a clean cut for the ground truth.
                cancellationToken.ThrowIfCancellationRequested();
                if (second is not null && AwaitDelivered is { } wait)
                {
                    await wait(Published, cancellationToken).ConfigureAwait(false);
                }

                await PaceAsync(simStart, ref realStart, message.Time, cancellationToken).ConfigureAwait(false);
                Clock?.AdvanceTo(message.Time);
                second = message.Time;
            }

            await publish(message, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _published);
            Interlocked.Exchange(ref _simulatedTicks, message.Time.UtcTicks);
        }

        if (AwaitDelivered is { } last)
        {
            await last(Published, cancellationToken).ConfigureAwait(false);
        }

        if (keepClockRunning && Clock is { } clock && Speed > 0)
        {
            var now = clock.GetUtcNow();
            while (!cancellationToken.IsCancellationRequested)
            {
                now = now.AddSeconds(1);
                await PaceAsync(simStart, ref realStart, now, cancellationToken).ConfigureAwait(false);
                clock.AdvanceTo(now);
            }
        }
    }

    private Task PaceAsync(DateTimeOffset simStart, ref long? realStart, DateTimeOffset time, CancellationToken cancellationToken)
    {
        if (Speed <= 0 || time < simStart)
        {
            return Task.CompletedTask;
        }

        // Real time starts counting at the first paced message.
        realStart ??= RealTime.GetTimestamp();
        var due = TimeSpan.FromTicks((long)((time - simStart).Ticks / Speed));
        var wait = due - RealTime.GetElapsedTime(realStart.Value);
        return wait > TimeSpan.FromMilliseconds(1) ? Task.Delay(wait, RealTime, cancellationToken) : Task.CompletedTask;
    }
}
