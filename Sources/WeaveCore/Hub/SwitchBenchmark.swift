import CWeaveContext

/// Measurements of the context switch itself, for the benchmark package only.
@_spi(Benchmarks)
public enum SwitchBenchmark {
    /// Nanoseconds per switch between two contexts through the scheduler's switch path.
    /// `swapExclusivity: false` isolates the assembly; true adds the exclusivity swap's
    /// runtime calls on every switch, or, with `skippingEmptySwap`, only when an access is
    /// open (what coroutines pay: the calls are skipped while none is). Must not run on a
    /// thread that runs a hub.
    public static func nanosecondsPerSwitch(rounds: Int, swapExclusivity: Bool, skippingEmptySwap: Bool = false) -> Double {
        let mode: Int32 = swapExclusivity ? (skippingEmptySwap ? 2 : 1) : 0
        let total = weave_bench_switch(UInt64(rounds), mode)
        return Double(total) / Double(2 * rounds)
    }
}
