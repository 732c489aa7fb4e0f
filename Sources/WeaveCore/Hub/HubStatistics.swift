extension Hub {
    /// A snapshot of a hub's scheduler counters, for metrics exporters and health checks
    /// (the `WeaveMetrics` target samples it).
    ///
    /// Every figure is a counter the scheduler keeps anyway: taking a snapshot costs a few
    /// loads, and keeping them costs the hot paths nothing extra.
    public struct Statistics: Sendable, Hashable {
        /// Coroutines spawned and not finished, the main body included.
        public let aliveCoroutines: Int
        /// Coroutines runnable and waiting for their turn: the run queue's depth.
        public let readyCoroutines: Int
        /// Coroutines spawned since the hub started (ever increasing).
        public let spawnedCoroutines: UInt64
        /// Context switches since the hub started (ever increasing).
        public let switches: UInt64
        /// Timers pending: sleeps, timeouts and deadlines not yet due.
        public let pendingTimers: Int
        /// Operations outside the loop that will wake a coroutine later (thread-pool work,
        /// `awaitAsync`, cross-thread submissions).
        public let outsideWork: Int
    }

    /// The hub's counters now. On the hub's thread only (like every hub method); never blocks.
    public var statistics: Statistics {
        Statistics(
            aliveCoroutines: aliveCount, readyCoroutines: readyCount, spawnedCoroutines: sched.pointee.next_id,
            switches: switchCount, pendingTimers: timers.count, outsideWork: outsideWork)
    }
}
