import WeaveCore

/// A lock shared by a parent and its children (Python's `multiprocessing.Lock`).
///
/// The lock is held by a *process*, not a coroutine (as Python's is not owned by a
/// thread): any coroutine of the holding process may release it. Waiters are served in
/// order of arrival (FIFO), across processes. When a child that holds the lock dies,
/// the owner releases it for the next waiter and counts it in ``ownerDeaths``: the data
/// it protected may be half-updated, and the owner can check.
///
/// ```swift
/// try lock.withLock { try log.append("\(getpid()) start"); try log.append("\(getpid()) end") }
/// ```
///
/// State lives in the process that created the lock; a child's handle (sent inside a
/// ``ChildProcess`` task) calls it over a link. A handle is not `Sendable`: once it serves
/// a child (or, in a child, once used) it belongs to that hub, and a use from another
/// thread traps.
public final class ProcessLock: Codable {
    private let endpoint: ManagerEndpoint

    /// Creates an unlocked lock, held by this process.
    public init(label: String = "ProcessLock") {
        endpoint = ManagerEndpoint(host: ProcessLockHost(label: label))
    }

    private var host: ProcessLockHost { endpoint.hostObject as! ProcessLockHost }

    /// Children that died holding the lock (counted in the owning process; 0 in a child).
    public var ownerDeaths: Int { (endpoint.hostObject as? ProcessLockHost)?.ownerDeaths ?? 0 }

    /// Whether some process holds the lock (the owner's view; in a child, always false).
    public var isLocked: Bool { (endpoint.hostObject as? ProcessLockHost)?.isLocked ?? false }

    /// Parks until this process holds the lock.
    ///
    /// - Throws: ``TimeoutError`` after `timeout`; `CancellationError` (a grant that
    ///   crosses the cancellation is released again); in a child,
    ///   ``ProcessError/Code/endOfStream`` if the owner is gone.
    public func acquire(timeout: Duration? = nil) throws {
        guard let client = try endpoint.client() else { return try host.acquire(timeout: timeout) }
        _ = try client.call(ProcessLockHost.acquireOp, operation: "ProcessLock.acquire", timeout: timeout) { [weak client] _ in
            client?.post(ProcessLockHost.releaseOp)
        }
    }

    /// Releases the lock, handing it to the first waiter.
    ///
    /// - Throws: ``WeaveError/Code/invalidArgument`` (in the owner) or
    ///   ``ProcessError/Code/malformedFrame`` (in a child) if this process does not hold it.
    public func release() throws {
        guard let client = try endpoint.client() else { return try host.releaseLocal() }
        _ = try client.call(ProcessLockHost.releaseOp, operation: "ProcessLock.release")
    }

    /// Runs `body` holding the lock, and releases it however `body` ends.
    public func withLock<Result>(timeout: Duration? = nil, _ body: () throws -> Result) throws -> Result {
        try acquire(timeout: timeout)
        do {
            let result = try body()
            try release()
            return result
        } catch {
            try? release()
            throw error
        }
    }

    /// Hands a link to the child being started (only inside a ``ChildProcess`` task).
    public func encode(to encoder: any Encoder) throws { try endpoint.encode(to: encoder) }

    /// Opens the link the owner sent (in the child, while its task is decoded).
    public init(from decoder: any Decoder) throws {
        endpoint = try ManagerEndpoint(from: decoder, label: "ProcessLock")
    }
}
