import WeaveCore

/// One ``ProcessPool`` for every hub of a ``HubGroup``: one set of worker processes that
/// coroutines on any hub hand tasks to, instead of a pool (and its workers) per hub.
///
/// The pool itself lives on one hub of the group, its *owner* (hub 0 unless told otherwise),
/// where its channels to the workers are read and written. A call from a coroutine on
/// another hub travels to the owner through ``HubGroup/Member/run(name:fileID:line:_:)``: the
/// calling coroutine parks cooperatively (its own hub goes on serving), the task is queued on
/// the owner as if it had been submitted there, and the output comes back the same way.
/// Cancelling the caller cancels the call on the owner, which kills a running task's worker
/// as ``ProcessPool/apply(_:timeout:)`` does. A call from the owner's own coroutines takes no
/// hop.
///
/// ```swift
/// try HubGroup.run { group in
///     let pool = try GroupProcessPool(group: group, configuration: .init(workers: 2))
///     let server = try GroupStreamServer(group: group, port: 8080) { connection in
///         // Any hub: the CPU work runs on the shared workers.
///         let primes = try pool.apply(CountPrimes(below: 100_000))
///         try connection.write("\(primes)\n")
///     }
///     try server.serveForever()
/// }
/// ```
///
/// A call costs two cross-hub hops on top of the pool's own work, so it pays off for tasks
/// of more than a few microseconds; hand a batch to ``map(_:chunkSize:timeout:)`` rather than
/// many tiny ``apply(_:timeout:)`` calls. Tasks and outputs cross threads, so a task type
/// must be `Sendable` (outputs already are).
public final class GroupProcessPool: Sendable {
    /// The hub the pool lives on.
    public let owner: HubGroup.Member
    /// Touched only by coroutines of ``owner`` (every use below runs there).
    private nonisolated(unsafe) let pool: ProcessPool

    /// Starts the workers, with the pool on `group`'s hub `ownerIndex`. Call it from a
    /// coroutine of any hub of `group`.
    ///
    /// - Throws: what ``ProcessPool/init(configuration:initializer:)`` throws; ``WeaveError``
    ///   when called outside a coroutine or when the owner hub has stopped.
    public init(
        group: HubGroup, ownerIndex: Int = 0, configuration: ProcessPool.Configuration = .init(),
        initializer: (any ProcessTask & Sendable)? = nil
    ) throws {
        precondition(group.hubs.indices.contains(ownerIndex), "HubGroup has no hub \(ownerIndex) (it has \(group.hubs.count))")
        let owner = group.hub(ownerIndex)
        self.owner = owner
        self.pool = try owner.run(name: "GroupProcessPool.init") {
            OwnedByHub(try ProcessPool(configuration: configuration, initializer: initializer))
        }.value
    }

    deinit {
        // The pool must end on its own hub; if that hub has stopped, its shutdown already
        // terminated the pool and releasing it here is all that is left.
        let pool = OwnedByHub(pool)
        try? owner.spawn(name: "GroupProcessPool.deinit") { pool.value.terminate() }
    }

    /// Runs `task` on a worker and parks the calling coroutine (on any hub) until its output
    /// comes back; see ``ProcessPool/apply(_:timeout:)`` for `timeout` and what it throws.
    public func apply<Task: ProcessTask & Sendable>(_ task: Task, timeout: Duration? = nil) throws -> Task.Output {
        let pool = OwnedByHub(pool)
        return try owner.run(name: "GroupProcessPool.apply") { try pool.value.apply(task, timeout: timeout) }
    }

    /// Runs every task of `tasks` and returns their outputs in order; see
    /// ``ProcessPool/map(_:chunkSize:timeout:)``. The input is collected on the calling hub
    /// first, so it must be finite.
    public func map<Tasks: Sequence>(_ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil) throws -> [Tasks.Element.Output]
    where Tasks.Element: ProcessTask & Sendable {
        let pool = OwnedByHub(pool)
        let array = Array(tasks)
        return try owner.run(name: "GroupProcessPool.map") { try pool.value.map(array, chunkSize: chunkSize, timeout: timeout) }
    }

    /// Process ids of the live workers.
    public func workerPIDs() throws -> [Int32] {
        let pool = OwnedByHub(pool)
        return try owner.run(name: "GroupProcessPool.workerPIDs") { pool.value.workerPIDs }
    }

    /// Stops taking tasks and waits until the workers have finished what was queued and
    /// exited; see ``ProcessPool/close()`` and ``ProcessPool/join(timeout:)``.
    public func closeAndJoin(timeout: Duration? = nil) throws {
        let pool = OwnedByHub(pool)
        try owner.run(name: "GroupProcessPool.close") {
            pool.value.close()
            try pool.value.join(timeout: timeout)
        }
    }

    /// Kills the workers now; queued and running tasks fail with ``ProcessError/Code/closed``.
    public func terminate() throws {
        let pool = OwnedByHub(pool)
        try owner.run(name: "GroupProcessPool.terminate") { pool.value.terminate() }
    }
}

/// A hub-local object carried to its own hub's coroutines through a `@Sendable` closure: the
/// holder promises to touch `value` only on that hub.
private struct OwnedByHub<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
