import WeaveCore

extension ProcessPool {
    /// A snapshot of a pool's queue and workers, for metrics exporters and health checks
    /// (the `WeaveMetrics` target samples it).
    ///
    /// Tasks are counted as the pool sends them: a chunk of ``map(_:chunkSize:timeout:)``
    /// or ``imap(_:chunkSize:timeout:maxInFlight:)`` counts once.
    public struct Statistics: Sendable, Hashable {
        /// Tasks submitted and not yet sent to a worker: the pool's queue depth.
        public let queuedTasks: Int
        /// Tasks sent to a worker and not yet answered (running, or pipelined behind one).
        public let inFlightTasks: Int
        /// Worker processes the pool holds now (starting, serving or retiring).
        public let workers: Int
        /// Workers started since the pool began, the first ones included (ever increasing).
        public let startedWorkers: Int
        /// Workers started to replace one that exited: a crash or kill, a task past its
        /// timeout, a worker cancelled mid-task, or ``Configuration/maxTasksPerWorker``
        /// reached (ever increasing).
        public let workerRestarts: Int
    }

    /// The pool's figures now. On its hub's thread only; never blocks.
    public var statistics: Statistics {
        let inFlight = workers.reduce(0) { $0 + $1.inFlight.count }
        return Statistics(
            queuedTasks: pending.count, inFlightTasks: inFlight, workers: workers.count, startedWorkers: startedWorkerCount,
            workerRestarts: max(0, startedWorkerCount - configuration.workers))
    }
}
