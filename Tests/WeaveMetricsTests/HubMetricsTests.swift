import Glibc
import MetricsTestKit
import Testing
import TestTasks
import Weave
import WeaveMetrics

// Each test passes its own `TestMetrics` as the factory: nothing process-global is
// bootstrapped, so the tests run in parallel with each other and with the rest.
@Suite("HubMetrics")
struct HubMetricsTests {
    static let dimensions = [("hub", "test")]

    @Test("coroutines alive, run-queue depth, spawns and switches are recorded")
    func hubFigures() async throws {
        let factory = TestMetrics()
        try await onHubThread {
            let metrics = try HubMetrics.start(every: .milliseconds(10), dimensions: Self.dimensions, factory: factory)
            defer { metrics.stop() }
            for _ in 0..<100 { try spawn { try Coroutine.sleep(for: .seconds(60)) } }
            // Spawned, not started: the hundred wait in the run queue until this one parks.
            metrics.sample()
            #expect(try factory.expectGauge("weave_hub_run_queue_depth", Self.dimensions).lastValue ?? 0 >= 100)
            // The sampler's own readings, once the sleepers are parked.
            try waitUntil {
                let alive = try factory.expectGauge("weave_hub_coroutines_alive", Self.dimensions).values
                return alive.count >= 3 && alive.last! >= 100
            }
        }
        let alive = try factory.expectGauge("weave_hub_coroutines_alive", Self.dimensions)
        #expect(alive.lastValue ?? 0 >= 100)
        let depth = try factory.expectGauge("weave_hub_run_queue_depth", Self.dimensions)
        #expect(depth.values.max()! >= 100)
        #expect(depth.lastValue! < 100)  // the sleepers are parked, not runnable
        #expect(factory.counterTotal(label: "weave_hub_coroutines_spawned", dimensions: Self.dimensions) >= 100)
        #expect(factory.counterTotal(label: "weave_hub_switches", dimensions: Self.dimensions) >= 100)
        #expect(try factory.expectGauge("weave_hub_timers", Self.dimensions).lastValue ?? 0 >= 100)
    }

    @Test("loop lag: how late the sampler's timer wakes, large while a coroutine holds the thread")
    func loopLag() async throws {
        let factory = TestMetrics()
        var quiet = Hub.Configuration()
        quiet.monitorsBlockedLoop = false  // holding the thread is the point here
        try await onHubThread(configuration: quiet) {
            let metrics = try HubMetrics.start(every: .milliseconds(10), prefix: "lag", factory: factory)
            defer { metrics.stop() }
            try waitUntil { try factory.expectTimer("lag_hub_loop_lag").values.count >= 2 }
            // Holds the thread without yielding: the sampler's timer falls due meanwhile.
            usleep(150_000)
            let before = try factory.expectTimer("lag_hub_loop_lag").values.count
            try waitUntil { try factory.expectTimer("lag_hub_loop_lag").values.count > before + 1 }
        }
        let lags = try factory.expectTimer("lag_hub_loop_lag").values
        #expect(lags.allSatisfy { $0 >= 0 })
        // Due 10 ms after the previous sample, woken only once the thread was free again.
        #expect(lags.max()! >= 100_000_000)
    }

    @Test("a process pool's queue depth, workers and a restart after its worker is killed")
    func processPool() async throws {
        let factory = TestMetrics()
        let dimensions = Self.dimensions + [("pool", "squares")]
        try await onHubThread {
            let metrics = try HubMetrics.start(every: .seconds(3600), dimensions: Self.dimensions, factory: factory)
            defer { metrics.stop() }
            let pool = try ProcessPool(configuration: .init(
                workers: 1, executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"]))
            defer { pool.terminate() }
            metrics.track(pool, name: "squares")
            #expect(try pool.apply(Square(3)) == 9)
            let first = pool.workerPIDs
            #expect(first.count == 1)
            kill(first[0], SIGKILL)
            try waitUntil { pool.statistics.workerRestarts >= 1 }

            // Submitted and not yet answered (nothing has yielded since): queued, or in
            // flight on the replacement, whose window starts at two tasks.
            let results = try (0..<10).map { try pool.submit(NapThenSquare($0, milliseconds: 1)) }
            metrics.sample()
            let queued = try factory.expectGauge("weave_process_pool_queued_tasks", dimensions).lastValue ?? -1
            let inFlight = try factory.expectGauge("weave_process_pool_in_flight_tasks", dimensions).lastValue ?? -1
            #expect(queued + inFlight == 10)
            #expect(queued >= 8)
            for (index, result) in results.enumerated() { #expect(try result.get() == index * index) }
            #expect(pool.workerPIDs.count == 1 && pool.workerPIDs != first)  // the replacement served them
            metrics.sample()
        }
        #expect(factory.counterTotal(label: "weave_process_pool_worker_restarts", dimensions: dimensions) == 1)
        #expect(try factory.expectGauge("weave_process_pool_workers", dimensions).lastValue == 1)
        #expect(try factory.expectGauge("weave_process_pool_queued_tasks", dimensions).lastValue == 0)
        #expect(try factory.expectGauge("weave_process_pool_in_flight_tasks", dimensions).lastValue == 0)
    }

    @Test("stop() ends the sampler coroutine; the hub then has nothing left of it")
    func stop() async throws {
        let factory = TestMetrics()
        try await onHubThread {
            let before = Hub.current!.statistics.aliveCoroutines
            let metrics = try HubMetrics.start(every: .milliseconds(5), factory: factory)
            try waitUntil { try factory.expectTimer("weave_hub_loop_lag").values.count >= 1 }
            #expect(Hub.current!.statistics.aliveCoroutines == before + 1)
            metrics.stop()
            try Coroutine.yield()
            #expect(Hub.current!.statistics.aliveCoroutines == before)
            let samples = try factory.expectTimer("weave_hub_loop_lag").values.count
            try Coroutine.sleep(for: .milliseconds(30))
            #expect(try factory.expectTimer("weave_hub_loop_lag").values.count == samples)
        }
    }
}

/// Runs `body` in a coroutine of a hub on a thread of its own, then stops that hub.
func onHubThread(
    configuration: Hub.Configuration = .init(), _ body: @escaping @Sendable () throws -> Void
) async throws {
    let hub = try HubThread(name: "metrics test", configuration: configuration)
    do {
        try await hub.run(body)
    } catch {
        try? await hub.shutdown()
        throw error
    }
    try await hub.shutdown()
}

/// Parks the calling coroutine until `condition` holds, for at most 10 seconds.
func waitUntil(_ condition: () throws -> Bool) throws {
    try withTimeout(.seconds(10)) {
        while try !condition() { try Coroutine.sleep(for: .milliseconds(2)) }
    }
}

/// The test suite's worker program (target `WeaveTestWorker`), built next to the test
/// bundle: under `swift test`, `/proc/self/exe` is the bundle, which is no worker.
let testWorkerPath: String = {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = String(decoding: buffer[..<max(0, count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/WeaveTestWorker"
}()
