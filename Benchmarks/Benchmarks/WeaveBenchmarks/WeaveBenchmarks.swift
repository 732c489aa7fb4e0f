// package-benchmark suite for Weave. Run from Benchmarks/:
//   swift package --disable-sandbox benchmark                 (all)
//   swift package --disable-sandbox benchmark --filter yield  (one)
//
// Every hub runs on a pthread of its own (never on a Swift concurrency thread: a hub blocks its
// thread, and the cooperative pool has one thread per core; see the "Hubs and threads" article),
// and measurement starts only once that hub is up, so hub and thread setup stay out of the
// numbers (wall clock and mallocs alike).
import Benchmark
import Glibc
@_spi(Benchmarks) import Weave

// MARK: - Running a hub on its own thread

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Runs `body` on a new pthread (8 MiB stack) and waits for it.
private func onOwnThread(_ body: @escaping () -> Void) {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, 8 << 20)
    defer { pthread_attr_destroy(&attributes) }
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(status == 0, "pthread_create failed: \(status)")
    pthread_join(thread, nil)
}

/// Runs `body` as the main coroutine of a fresh hub on its own thread; a thrown error
/// fails the benchmark run loudly.
private func withHub(_ configuration: Hub.Configuration = .init(), _ body: @escaping () throws -> Void) {
    onOwnThread {
        do {
            try Hub.run(configuration: configuration, body)
        } catch {
            fatalError("benchmark hub failed: \(error)")
        }
    }
}

// MARK: - Metrics

private let nsPerSwitch = BenchmarkMetric.custom("ns per switch", polarity: .prefersSmaller, useScalingFactor: false)
private let switchesPerYield = BenchmarkMetric.custom("switches per yield (x1000)", polarity: .prefersSmaller, useScalingFactor: false)

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(2)
    Benchmark.defaultConfiguration.maxIterations = 50
    Benchmark.defaultConfiguration.warmupIterations = 1

    // The bare switch, hub <-> fiber, through the SPI (on the benchmark thread, which runs
    // no hub). One scaled iteration = one round trip = two switches.
    for swap in [false, true] {
        Benchmark(
            swap ? "switch asm+exclusivity swap (SPI)" : "switch raw asm (SPI)",
            configuration: .init(metrics: [.wallClock, .throughput, nsPerSwitch], timeUnits: .nanoseconds,
                                 scalingFactor: .mega)
        ) { benchmark in
            let ns = SwitchBenchmark.nanosecondsPerSwitch(rounds: benchmark.scaledIterations.count, swapExclusivity: swap)
            benchmark.measurement(nsPerSwitch, Int(ns.rounded()))
        }
    }

    // Two coroutines yield to each other: one switch per yield, through the run queue
    // (libuv is polled every 256 dispatches). One scaled iteration = one yield.
    Benchmark(
        "yield ping-pong (run queue)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, switchesPerYield],
                             timeUnits: .nanoseconds, scalingFactor: .mega)
    ) { benchmark in
        let yields = benchmark.scaledIterations.count
        withHub {
            let hub = Hub.current!
            let body = { () throws -> Void in
                for _ in 0..<(yields / 2) { try Coroutine.yield() }
            }
            let ping = try spawn(name: "ping", body)
            let pong = try spawn(name: "pong", body)
            let switches0 = hub.switchCount
            benchmark.startMeasurement()
            try ping.join()
            try pong.join()
            benchmark.stopMeasurement()
            benchmark.measurement(switchesPerYield, Int((hub.switchCount - switches0) * 1000 / UInt64(yields)))
        }
    }

    // spawn + run + finish on pooled stacks: a batch of 1,000 coroutines, each yields once,
    // then joinAll. One scaled iteration = one coroutine. A first batch, unmeasured, fills
    // the stack pool, as in a long-running hub.
    Benchmark(
        "spawn+yield+join, batch of 1000",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .nanoseconds,
                             scalingFactor: .kilo)
    ) { benchmark in
        let batchSize = benchmark.scaledIterations.count
        withHub {
            var handles: [AnyCoroutine] = []
            handles.reserveCapacity(batchSize)
            func batch() throws {
                for _ in 0..<batchSize { handles.append(try spawn { try Coroutine.yield() }) }
                try joinAll(handles)
                handles.removeAll(keepingCapacity: true)
            }
            try batch()
            benchmark.startMeasurement()
            try batch()
            benchmark.stopMeasurement()
        }
    }

    // 100,000 coroutines, each sleeping 1..10 ms, woken by the hub's timer heap; measured from
    // the first spawn until the last has woken and been joined (so at least 10 ms).
    // 64 KiB stacks, pool large enough to keep them.
    Benchmark(
        "100k sleepers woken by timers",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], timeUnits: .milliseconds,
                             scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 10)
    ) { benchmark in
        var configuration = Hub.Configuration()
        configuration.stackSize = 64 * 1024
        configuration.stackPoolCapacity = 100_000
        withHub(configuration) {
            let count = 100_000
            var handles: [AnyCoroutine] = []
            handles.reserveCapacity(count)
            benchmark.startMeasurement()
            for i in 0..<count {
                let ms = 1 + i % 10
                handles.append(try spawn { try Coroutine.sleep(for: .milliseconds(ms)) })
            }
            try joinAll(handles)
            benchmark.stopMeasurement()
        }
    }
}
