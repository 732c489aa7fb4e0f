import CWeaveContext

/// Measurements of the context switch itself, for the benchmark package only.
@_spi(Benchmarks)
public enum SwitchBenchmark {
    /// Nanoseconds per switch between two contexts through the scheduler's switch path
    /// (`swapExclusivity: true` is what coroutines pay; false isolates the assembly).
    /// Must not run on a thread that runs a hub.
    public static func nanosecondsPerSwitch(rounds: Int, swapExclusivity: Bool) -> Double {
        let total = weave_bench_switch(UInt64(rounds), swapExclusivity ? 1 : 0)
        return Double(total) / Double(2 * rounds)
    }
}
