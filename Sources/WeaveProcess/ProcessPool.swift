import Glibc
import WeaveCore

/// A pool of worker processes for CPU-heavy work, used from coroutines: the calling
/// coroutine parks until its result comes back, and the hub keeps running everything else
/// (Python's `multiprocessing.Pool`, without its hangs).
///
/// Work is a ``ProcessTask``: a `Codable` value naming what to run. Workers re-execute this
/// program (or ``Configuration/executable``), which must call ``ProcessWorker/main(tasks:)`` first.
///
/// - A worker that dies (a crash, `kill -9`, an exit) fails only the task it was running,
///   with ``ProcessError/Code/workerDied`` naming the signal or exit status; the tasks queued
///   behind it go to other workers, and a new worker takes its place. Every other result
///   arrives once and no task runs twice: a worker tells the parent each task's start, after
///   handing over every earlier answer, so its death leaves no doubt about what it ran.
/// - A worker silent in the middle of a frame for ``Configuration/frameTimeout`` is killed;
///   its task fails with ``ProcessError/Code/malformedFrame``.
/// - A task that runs longer than its `timeout` gets its worker killed and replaced; the
///   task fails with ``TimeoutError``.
/// - Cancelling a coroutine that waits for a running task kills that task's worker (there is
///   no other way to stop it) and replaces it.
/// - An error thrown by a task comes back as ``ProcessError/Code/remoteError`` with the
///   error's type name and description, and the error itself when its type is `Codable`
///   (``ProcessError/remoteError(as:)``, ``RemoteError``).
///
/// A pool belongs to the hub that made it. ``close()`` stops new work, ``join(timeout:)`` waits for
/// the work in hand and the workers' exit, ``terminate()`` kills at once; the hub's shutdown
/// terminates a pool left open. Tasks are dispatched with a small per-worker window that
/// adapts to how long tasks take: short tasks are pipelined (many per system call), long
/// ones go one at a time so no worker sits idle while another has a queue.
public final class ProcessPool: HubResource, WaitTarget {
    /// How a pool starts and runs its workers.
    public struct Configuration: Sendable {
        /// Worker processes. Default: the number of online cores.
        public var workers: Int
        /// The program to run as a worker; nil means this program (`/proc/self/exe`).
        /// It must call ``ProcessWorker/main(tasks:)`` with the task types it will be sent.
        public var executable: String?
        /// Replace a worker after this many tasks (Python's `maxtasksperchild`); nil: never.
        public var maxTasksPerWorker: Int?
        /// The largest frame (task or result) either side accepts. Default 64 MiB.
        public var maximumFrameSize: Int
        /// Extra environment variables for the workers.
        public var environment: [String: String]
        /// On SIGINT (Ctrl-C), kill the workers and end the program by SIGINT, as it would
        /// end without a pool. Turn off to handle SIGINT yourself (then call ``terminate()``).
        public var terminatesOnInterrupt: Bool
        /// The longest a worker may stay silent in the middle of a frame: once a frame's
        /// first byte has arrived, each further read must come within this time of the
        /// last. A worker past it (a task that wrote stray bytes to fd 3, a wedged writer)
        /// is killed and replaced, and its running task fails with
        /// ``ProcessError/Code/malformedFrame``. It bounds only a frame that has begun:
        /// a task may compute for as long as its own `timeout` allows. Default 10 seconds.
        public var frameTimeout: Duration

        public init(
            workers: Int? = nil, executable: String? = nil, maxTasksPerWorker: Int? = nil,
            maximumFrameSize: Int = ProcessPool.defaultMaximumFrameSize, environment: [String: String] = [:],
            terminatesOnInterrupt: Bool = true, frameTimeout: Duration = ProcessPool.defaultFrameTimeout
        ) {
            self.terminatesOnInterrupt = terminatesOnInterrupt
            self.frameTimeout = frameTimeout
            self.workers = workers ?? ProcessPool.coreCount
            self.executable = executable
            self.maxTasksPerWorker = maxTasksPerWorker
            self.maximumFrameSize = maximumFrameSize
            self.environment = environment
        }
    }

    public static let defaultMaximumFrameSize = 64 << 20
    /// The default ``Configuration/frameTimeout``.
    public static let defaultFrameTimeout: Duration = .seconds(10)
    static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public let configuration: Configuration
    unowned(unsafe) let hub: Hub
    let executable: String
    let environment: [String]
    /// The initializer task, encoded once: (name, arguments).
    let initializer: (name: String, arguments: [UInt8])?

    // `workers`, `pending` and each worker's `inFlight` are read in every dispatch loop, a
    // dynamic exclusivity check apiece (tens of them a chunk); each access is short, on the
    // pool's hub, and never open across a call out, so the checks are left out.
    @exclusivity(unchecked) var workers: [PoolWorker] = []
    /// Submitted and not yet sent to a worker, in order.
    @exclusivity(unchecked) var pending = PoolTaskQueue()
    var nextTaskID: UInt64 = 0
    /// The coders of task arguments and outputs, their containers kept from chunk to chunk.
    let coders = BinaryCoders()
    /// Task names, and whether each is bitwise, by type (see `taskInfo(_:)`).
    @exclusivity(unchecked) var taskInfos: [ObjectIdentifier: (name: String, isBitwise: Bool)] = [:]
    /// The entry of ``taskInfos`` found last.
    @exclusivity(unchecked) var lastTaskInfo: (type: ObjectIdentifier, info: (name: String, isBitwise: Bool))?
    var isClosed = false
    var isTerminated = false
    /// Set when workers cannot start (or their initializer fails): every task fails with it.
    var brokenError: ProcessError?
    var consecutiveStartFailures = 0
    /// Workers started since the pool began, replacements included (see ``statistics``).
    var startedWorkerCount = 0
    /// Coroutines in ``join()``.
    var joiners = WaitQueue()
    /// Finished tasks of ``submit``, whose callbacks the notifier coroutine runs.
    var notifications: [PoolTask] = []
    var notifier: AnyCoroutine?
    var interruptWatcher: InterruptWatcher?

    /// Starts `configuration.workers` worker processes.
    ///
    /// - Parameter initializer: a task each new worker runs once before any other (Python's
    ///   `initializer`); its output is ignored, and its failure breaks the pool (every task
    ///   then fails with that error).
    /// - Throws: ``ProcessError/Code/spawnFailed`` if a worker cannot be started;
    ///   ``WeaveError`` with ``WeaveError/Code/invalidArgument`` for a bad configuration, or
    ///   when called outside a coroutine.
    public init(configuration: Configuration = .init(), initializer: (any ProcessTask)? = nil) throws {
        let hub = try AnyCoroutine.requireCurrent("ProcessPool.init").hub
        guard configuration.workers >= 1 else {
            throw WeaveError(.invalidArgument, "ProcessPool needs at least one worker, not \(configuration.workers)")
        }
        if let limit = configuration.maxTasksPerWorker, limit < 1 {
            throw WeaveError(.invalidArgument, "maxTasksPerWorker must be at least 1, not \(limit)")
        }
        guard configuration.maximumFrameSize >= 64, configuration.maximumFrameSize <= Int(UInt32.max) else {
            throw WeaveError(.invalidArgument, "maximumFrameSize \(configuration.maximumFrameSize) is outside 64...\(UInt32.max)")
        }
        guard configuration.frameTimeout > .zero else {
            throw WeaveError(.invalidArgument, "frameTimeout must be positive, not \(configuration.frameTimeout)")
        }
        if getenv(WorkerEnvironment.mode) != nil {
            // Started as a worker, yet running the normal program: without this check the
            // program would start pools of workers that start pools of workers...
            throw WeaveError(.invalidArgument, "this process was started as a Weave worker but did not call ProcessWorker.main(tasks:) first")
        }
        self.configuration = configuration
        self.hub = hub
        self.executable = configuration.executable ?? ProcessPool.currentExecutable()
        var environment = ProcessPool.inheritedEnvironment()
        environment.append("\(WorkerEnvironment.mode)=pool")
        environment.append("\(WorkerEnvironment.parentPID)=\(getpid())")
        environment.append("\(WorkerEnvironment.maximumFrameSize)=\(configuration.maximumFrameSize)")
        for (key, value) in configuration.environment.sorted(by: { $0.key < $1.key }) { environment.append("\(key)=\(value)") }
        self.environment = environment
        self.initializer = try initializer.map { try ProcessPool.encodeInitializer($0) }
        hub.register(self)
        do {
            if configuration.terminatesOnInterrupt {
                interruptWatcher = try InterruptWatcher(hub: hub) { [unowned self] in
                    for worker in self.workers { worker.process.killAndReap() }
                    self.terminate()
                }
            }
            for _ in 0..<configuration.workers { try startWorker() }
        } catch {
            terminate()
            throw error
        }
    }

    /// Convenience: `workers` processes running tasks from this program.
    public convenience init(workers: Int? = nil, maxTasksPerWorker: Int? = nil, initializer: (any ProcessTask)? = nil) throws {
        try self.init(configuration: .init(workers: workers, maxTasksPerWorker: maxTasksPerWorker), initializer: initializer)
    }

    deinit {
        terminate()
    }

    /// Process ids of the live workers.
    public var workerPIDs: [Int32] { workers.filter { !$0.process.hasExited }.map(\.process.pid) }

    /// Tasks submitted and not finished (queued, or in flight on a worker).
    public var outstandingCount: Int { pending.count + workers.reduce(0) { $0 + $1.inFlight.count } }

    // MARK: - Running tasks

    /// Runs `task` on a worker and parks the calling coroutine until its output comes back.
    ///
    /// - Parameter timeout: the longest the task may run on its worker (time queued does not
    ///   count); past it the worker is killed and replaced.
    /// - Throws: ``ProcessError`` (``ProcessError/Code/remoteError`` when the task threw:
    ///   ``ProcessError/remoteError(as:)`` rebuilds a `Codable` error;
    ///   ``ProcessError/Code/workerDied``, ``ProcessError/Code/closed``...), ``TimeoutError``,
    ///   `CancellationError` (a running task's worker is killed).
    public func apply<Task: ProcessTask>(_ task: Task, timeout: Duration? = nil) throws -> Task.Output {
        let coroutine = try AnyCoroutine.requireCurrent("ProcessPool.apply")
        let waiter = PoolTaskWaiter(coroutine)
        let item = try submit([task], timeout: timeout, sink: waiter)
        try flushWorkers()
        try wait(for: item, waiter: waiter)
        return try item.decodeOutputs(Task.Output.self, using: coders)[0]
    }

    /// Submits `task` and returns at once; the result arrives in the returned ``Future``,
    /// and `onSuccess` or `onFailure` runs in a coroutine of the pool when it does.
    public func submit<Task: ProcessTask>(
        _ task: Task, timeout: Duration? = nil,
        onSuccess: ((Task.Output) -> Void)? = nil, onFailure: ((any Error) -> Void)? = nil
    ) throws -> Future<Task.Output> {
        _ = try AnyCoroutine.requireCurrent("ProcessPool.submit")
        let result = Future<Task.Output>(label: "ProcessPool task \(Task.taskName)")
        let sink = PoolAsyncSink(pool: self) { [coders] item in
            do {
                let output = try item.decodeOutputs(Task.Output.self, using: coders)[0]
                try? result.set(output)
                onSuccess?(output)
            } catch {
                try? result.fail(error)
                onFailure?(error)
            }
        }
        _ = try submit([task], timeout: timeout, sink: sink)
        try flushWorkers()
        return result
    }

    /// Runs every task on the workers and returns their outputs in input order; parks the
    /// calling coroutine until the last one (or a failure) is in.
    ///
    /// The input is consumed lazily (a bounded number of chunks in flight). Failures, beside
    /// ``imap(_:chunkSize:timeout:maxInFlight:)``:
    ///
    /// | | `map` | `imap` |
    /// |---|---|---|
    /// | a task fails | throws that error once every earlier task has finished (the first failure in input order, as gevent's `map`) | yields the error at that index, after every earlier output, then goes on with the later tasks |
    /// | after a failure | what is still out is abandoned: queued tasks are dropped, running ones have their workers killed and replaced | the caller decides: keep iterating, or stop (which abandons what is out, the same way) |
    /// | the pool closes or breaks mid-way | throws, at the index where submission stopped | yields that error at that index, then ends |
    /// | the caller is cancelled | throws `CancellationError`; the running tasks' workers are killed | yields `CancellationError` at once and ends |
    ///
    /// With `chunkSize` above 1 a chunk is one unit of work: it travels in one frame, and a
    /// worker that dies in it fails the whole chunk (each of its indices yields the error).
    /// For tasks so small that encoding them costs more than running them, a task type of
    /// plain data can be a ``BitwiseProcessTask``: a chunk then travels as one copy of its
    /// bytes each way.
    ///
    /// - Parameters:
    ///   - chunkSize: tasks sent per message; larger chunks amortise the round trip for
    ///     tiny tasks, at the cost of balance.
    ///   - timeout: the longest one chunk may run on its worker.
    /// - Throws: the first failing task's error in input order (``ProcessError``,
    ///   ``TimeoutError``), `CancellationError`; ``WeaveError`` for a bad `chunkSize`.
    public func map<Tasks: Sequence>(_ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil) throws -> [Tasks.Element.Output]
    where Tasks.Element: ProcessTask {
        // imap's order, a chunk at a time: no `Result` per output.
        let iteration = try imap(tasks, chunkSize: chunkSize, timeout: timeout)
        if let total = iteration.knownCount {
            // An array's outputs are decoded straight into the result, chunk after chunk.
            return try [Tasks.Element.Output](unsafeUninitializedCapacity: total) { buffer, initialized in
                while try iteration.decodeNextChunk(into: buffer, initialized: &initialized) {}
                precondition(initialized == total, "fewer outputs than tasks")
            }
        }
        var outputs: [Tasks.Element.Output] = []
        outputs.reserveCapacity(tasks.underestimatedCount)
        while try iteration.appendNextChunk(to: &outputs) {}
        return outputs
    }

    /// Runs the tasks lazily, yielding each output (or error) strictly in input order as
    /// it becomes available; at most `maxInFlight` chunks are submitted ahead of the
    /// consumer. A failure is yielded at its own index, never before the outputs of earlier
    /// tasks; see ``map(_:chunkSize:timeout:)`` for the two side by side. Iterating parks
    /// the coroutine while the next output is not in.
    public func imap<Tasks: Sequence>(
        _ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil, maxInFlight: Int? = nil
    ) throws -> ProcessMapResults<Tasks.Element> where Tasks.Element: ProcessTask {
        try ProcessMapResults(pool: self, tasks: tasks, ordered: true, chunkSize: chunkSize, timeout: timeout, maxInFlight: maxInFlight)
    }

    /// Like ``imap(_:chunkSize:timeout:maxInFlight:)``, in completion order (failures too).
    public func imapUnordered<Tasks: Sequence>(
        _ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil, maxInFlight: Int? = nil
    ) throws -> ProcessMapResults<Tasks.Element> where Tasks.Element: ProcessTask {
        try ProcessMapResults(pool: self, tasks: tasks, ordered: false, chunkSize: chunkSize, timeout: timeout, maxInFlight: maxInFlight)
    }

    // MARK: - Closing

    /// Accepts no more tasks; the work in hand still runs. Workers exit once idle.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        retireIdleWorkers()
    }

    /// Waits until every submitted task has finished and every worker has exited; call
    /// ``close()`` first (Python's rule). Throws ``ProcessError/Code/closed`` if the pool is
    /// still open, ``TimeoutError``, `CancellationError`.
    public func join(timeout: Duration? = nil) throws {
        guard isClosed else { throw ProcessError(.closed, "ProcessPool.join: call close() first") }
        let coroutine = try AnyCoroutine.requireCurrent("ProcessPool.join")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while !workers.isEmpty || !pending.isEmpty {
            try coroutine.wait(
                on: self, "join", timeout: deadline.map { $0 - .now },
                enqueue: { joiners.append($0) }, dequeue: { joiners.remove($0) })
        }
    }

    /// Kills every worker now; queued and running tasks fail with ``ProcessError/Code/closed``.
    public func terminate() {
        guard !isTerminated else { return }
        isTerminated = true
        isClosed = true
        let error = ProcessError(.closed, "ProcessPool was terminated")
        for worker in workers {
            let tasks = worker.inFlight.drain()
            worker.running = nil
            if let timer = worker.graceTimer {
                hub.removeTimer(timer)
                worker.graceTimer = nil
            }
            worker.detach()
            worker.retire(killing: true)
            worker.process.channel.close()
            for task in tasks { finish(task, .failure(error)) }
        }
        workers.removeAll()
        while let task = pending.popFirst() { finish(task, .failure(error)) }
        hub.unregister(self)
        interruptWatcher?.close()
        interruptWatcher = nil
        joiners.signalAll()
    }

    package func closeForShutdown() {
        // The loop is about to close: kill and reap the workers synchronously.
        for worker in workers { worker.process.killAndReap() }
        terminate()
    }

    package var waitDescription: String { "ProcessPool(\(configuration.workers) workers)" }

    // MARK: - Helpers

    static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    static func inheritedEnvironment() -> [String] {
        var result: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if !text.hasPrefix("WEAVE_WORKER=") && !text.hasPrefix("WEAVE_PARENT_PID=") && !text.hasPrefix("WEAVE_MAX_FRAME=") {
                result.append(text)
            }
            entry += 1
        }
        return result
    }

    private static func encodeInitializer<Task: ProcessTask>(_ task: Task) throws -> (name: String, arguments: [UInt8]) {
        (Task.taskName, try BinaryEncoder().encode(task))
    }
}
