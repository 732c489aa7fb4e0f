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
/// ``ChildProcess`` task) calls it over a link.
public final class ProcessLock: Codable, @unchecked Sendable {
    private let endpoint: BrokerEndpoint

    /// Creates an unlocked lock, held by this process.
    public init(label: String = "ProcessLock") {
        endpoint = BrokerEndpoint(host: ProcessLockHost(label: label))
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
            _ = try? client?.call(ProcessLockHost.releaseOp, operation: "ProcessLock.release")
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
        endpoint = try BrokerEndpoint(from: decoder, label: "ProcessLock")
    }
}

/// The state of a ``ProcessLock``, in the owning process.
final class ProcessLockHost: BrokerHost {
    static let acquireOp: UInt8 = 1
    static let releaseOp: UInt8 = 2

    private enum Holder: Equatable {
        case none, local
        case remote(ObjectIdentifier)
    }

    private enum Waiter {
        case local(LocalWaiter)
        case remote(BrokerRequest)
    }

    final class LocalWaiter {
        let event = Event(label: "ProcessLock.acquire")
        var granted = false
    }

    private var holder = Holder.none
    private var waiters: [Waiter] = []
    private(set) var ownerDeaths = 0

    var isLocked: Bool { holder != .none }

    init(label: String) {
        super.init(label: label, maximumFrameSize: 4096)
    }

    func acquire(timeout: Duration?) throws {
        if holder == .none {
            holder = .local
            return
        }
        let waiter = LocalWaiter()
        waiters.append(.local(waiter))
        do {
            try waiter.event.wait(timeout: timeout)
        } catch {
            waiters.removeAll { if case .local(let other) = $0 { return other === waiter } else { return false } }
            if waiter.granted { grantNext() }  // granted as we gave up: pass it on
            throw error
        }
    }

    func releaseLocal() throws {
        guard holder == .local else {
            throw WeaveError(.invalidArgument, "\(label).release: this process does not hold the lock")
        }
        grantNext()
    }

    /// Hands the lock to the first waiter still waiting, or leaves it free.
    private func grantNext() {
        holder = .none
        while !waiters.isEmpty {
            switch waiters.removeFirst() {
            case .local(let waiter):
                holder = .local
                waiter.granted = true
                waiter.event.set()
                return
            case .remote(let request):
                guard !request.isAnswered else { continue }
                holder = .remote(ObjectIdentifier(request.link))
                request.reply()
                return
            }
        }
    }

    override func handle(_ request: BrokerRequest) {
        switch request.op {
        case Self.acquireOp:
            if holder == .none {
                holder = .remote(ObjectIdentifier(request.link))
                request.reply()
            } else {
                waiters.append(.remote(request))
            }
        case Self.releaseOp:
            guard holder == .remote(ObjectIdentifier(request.link)) else {
                request.fail(.failed, "this process does not hold the lock")
                return
            }
            request.reply()
            grantNext()
        default:
            super.handle(request)
        }
    }

    override func withdraw(_ request: BrokerRequest) {
        waiters.removeAll { if case .remote(let other) = $0 { return other === request } else { return false } }
    }

    override func linkClosed(_ link: BrokerLink) {
        guard holder == .remote(ObjectIdentifier(link)) else { return }
        ownerDeaths += 1
        grantNext()
    }
}
