import CoreMetrics
import Weave

/// Reports a hub's figures, and those of the process pools it is given, through
/// swift-metrics, from a sampler coroutine on the hub.
///
/// ```swift
/// try Hub.run {
///     let metrics = try HubMetrics.start(every: .seconds(1), dimensions: [("hub", "main")])
///     let pool = try ProcessPool(workers: 4)
///     metrics.track(pool, name: "primes")
///     ...
/// }
/// ```
///
/// Every `interval` the sampler wakes from a timer and records:
///
/// | label | type | what |
/// |---|---|---|
/// | `weave_hub_loop_lag` | `Timer` (ns) | how late the sampler's timer woke: the time the loop spent on other work before it could run a due coroutine |
/// | `weave_hub_coroutines_alive` | `Gauge` | coroutines spawned and not finished (`Hub.Statistics.aliveCoroutines`) |
/// | `weave_hub_run_queue_depth` | `Gauge` | runnable coroutines waiting for their turn (`Hub.Statistics.readyCoroutines`) |
/// | `weave_hub_timers` | `Gauge` | pending sleeps, timeouts and deadlines |
/// | `weave_hub_coroutines_spawned` | `Counter` | coroutines spawned |
/// | `weave_hub_switches` | `Counter` | context switches |
/// | `weave_process_pool_queued_tasks` | `Gauge` | tasks not yet sent to a worker (the pool's queue depth) |
/// | `weave_process_pool_in_flight_tasks` | `Gauge` | tasks sent to workers and not yet answered |
/// | `weave_process_pool_workers` | `Gauge` | worker processes |
/// | `weave_process_pool_worker_restarts` | `Counter` | workers started to replace one that exited |
///
/// `weave` is the `prefix`; every metric carries `dimensions`, and a pool's also
/// `("pool", name)`. Counters are incremented by what the hub's own counters grew since
/// the last sample.
///
/// Costs nothing between samples: the hub keeps these counters anyway, and the sampler only
/// reads them (`Hub.statistics`, `ProcessPool.statistics`) and makes one call per metric
/// into the backend.
///
/// A `HubMetrics` belongs to its hub: make it, ``track(_:name:)`` and ``stop()`` it in a
/// coroutine of that hub. The sampler runs until ``stop()`` or the hub's shutdown, whether
/// or not the returned object is kept. While it runs, its timer keeps the loop busy: a hub
/// whose other coroutines are all stuck then waits instead of throwing `DeadlockError`.
public final class HubMetrics {
    /// Time between samples.
    public let interval: Duration
    private let state: SamplerState
    private let sampler: Coroutine<Void>

    private init(interval: Duration, state: SamplerState, sampler: Coroutine<Void>) {
        self.interval = interval
        self.state = state
        self.sampler = sampler
    }

    /// Starts sampling the current hub every `interval`, and returns at once.
    ///
    /// - Parameters:
    ///   - interval: time between samples; each sample also measures the loop's lag.
    ///   - prefix: the start of every metric's label (`weave_hub_...`).
    ///   - dimensions: added to every metric, such as `[("hub", "io")]` when several hubs report.
    ///   - factory: the metrics backend; by default the one `MetricsSystem.bootstrap` installed
    ///     (or one bound with `withMetricsFactory` where this runs inside a task).
    /// - Throws: `WeaveError` outside a hub or while it shuts down (as `spawn` does).
    ///   A non-positive `interval` is a programmer error (precondition).
    @discardableResult
    public static func start(
        every interval: Duration = .seconds(1), prefix: String = "weave", dimensions: [(String, String)] = [],
        factory: any MetricsFactory = MetricsSystem.factory
    ) throws -> HubMetrics {
        precondition(interval > .zero, "HubMetrics interval must be positive, not \(interval)")
        let state = SamplerState(prefix: prefix, dimensions: dimensions, factory: factory)
        let sampler = try spawn(name: "metrics sampler") {
            while true {
                let due = ContinuousClock.now + interval
                try Coroutine.sleep(until: due)
                state.recordLag(ContinuousClock.now - due)
                state.sample()
            }
        }
        // `spawn` succeeded: this thread runs a hub.
        state.hub = Hub.current.map(ObjectIdentifier.init)
        return HubMetrics(interval: interval, state: state, sampler: sampler)
    }

    /// Reports `pool`'s figures too, from the next sample on, with the dimension
    /// `("pool", name)`, for as long as the pool exists (tracking does not keep it alive).
    public func track(_ pool: ProcessPool, name: String) {
        state.track(pool, name: name)
    }

    /// Takes one sample now (every figure but the loop lag): for a final reading before
    /// shutdown, or a test. Hub thread only.
    public func sample() {
        state.sample()
    }

    /// Stops sampling (cancels the sampler coroutine). The metrics keep their last values
    /// in the backend. No effect once stopped.
    public func stop() {
        sampler.cancel()
    }
}

/// What the sampler coroutine reads and records: kept apart from ``HubMetrics`` so that the
/// coroutine does not keep the caller's object alive (nor the reverse).
private final class SamplerState {
    /// The hub sampled, to catch a sample taken from another thread.
    var hub: ObjectIdentifier?
    let prefix: String
    let dimensions: [(String, String)]
    let factory: any MetricsFactory
    let loopLag: CoreMetrics.Timer
    let alive: Gauge
    let runQueue: Gauge
    let timers: Gauge
    let spawned: Counter
    let switches: Counter
    var last: Hub.Statistics?
    var pools: [TrackedPool] = []

    init(prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
        self.prefix = prefix
        self.dimensions = dimensions
        self.factory = factory
        loopLag = CoreMetrics.Timer(label: "\(prefix)_hub_loop_lag", dimensions: dimensions, factory: factory)
        alive = Gauge(label: "\(prefix)_hub_coroutines_alive", dimensions: dimensions, factory: factory)
        runQueue = Gauge(label: "\(prefix)_hub_run_queue_depth", dimensions: dimensions, factory: factory)
        timers = Gauge(label: "\(prefix)_hub_timers", dimensions: dimensions, factory: factory)
        spawned = Counter(label: "\(prefix)_hub_coroutines_spawned", dimensions: dimensions, factory: factory)
        switches = Counter(label: "\(prefix)_hub_switches", dimensions: dimensions, factory: factory)
    }

    func recordLag(_ lateness: Duration) {
        let (seconds, attoseconds) = max(lateness, .zero).components
        loopLag.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func sample() {
        guard let hub = Hub.current, ObjectIdentifier(hub) == self.hub else {
            preconditionFailure("HubMetrics.sample() called off its hub's thread")
        }
        let now = hub.statistics
        alive.record(now.aliveCoroutines)
        runQueue.record(now.readyCoroutines)
        timers.record(now.pendingTimers)
        spawned.increment(by: now.spawnedCoroutines &- (last?.spawnedCoroutines ?? 0))
        switches.increment(by: now.switches &- (last?.switches ?? 0))
        last = now
        pools.removeAll { !$0.sample() }
    }

    func track(_ pool: ProcessPool, name: String) {
        guard !pools.contains(where: { $0.pool === pool }) else { return }
        pools.append(TrackedPool(pool: pool, dimensions: dimensions + [("pool", name)], prefix: prefix, factory: factory))
    }
}

/// A process pool's metrics; holds the pool weakly, so that tracking never keeps it open.
private final class TrackedPool {
    weak var pool: ProcessPool?
    let queued: Gauge
    let inFlight: Gauge
    let workers: Gauge
    let restarts: Counter
    var lastRestarts = 0

    init(pool: ProcessPool, dimensions: [(String, String)], prefix: String, factory: any MetricsFactory) {
        self.pool = pool
        queued = Gauge(label: "\(prefix)_process_pool_queued_tasks", dimensions: dimensions, factory: factory)
        inFlight = Gauge(label: "\(prefix)_process_pool_in_flight_tasks", dimensions: dimensions, factory: factory)
        workers = Gauge(label: "\(prefix)_process_pool_workers", dimensions: dimensions, factory: factory)
        restarts = Counter(label: "\(prefix)_process_pool_worker_restarts", dimensions: dimensions, factory: factory)
    }

    /// Records the pool's figures; false once the pool is gone.
    func sample() -> Bool {
        guard let pool else { return false }
        let now = pool.statistics
        queued.record(now.queuedTasks)
        inFlight.record(now.inFlightTasks)
        workers.record(now.workers)
        restarts.increment(by: now.workerRestarts - lastRestarts)
        lastRestarts = now.workerRestarts
        return true
    }
}
