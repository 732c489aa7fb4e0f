/// A counting semaphore for coroutines (gevent's `Semaphore`).
///
/// `acquire` takes a permit, waiting while none is left; `release` returns one, handing
/// it straight to the longest waiter. Unlike a lock, any coroutine may release.
/// ``BoundedSemaphore`` refuses to grow past its initial value.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public class Semaphore: WaitTarget, CustomStringConvertible {
    public let label: String?
    @exclusivity(unchecked) private(set) var permits: Int
    @exclusivity(unchecked) private var waiters = WaitQueue()

    /// - Parameters:
    ///   - value: Permits available at first; must not be negative.
    ///   - label: Shown in deadlock reports.
    ///
    /// A negative `value` is a programmer error (a precondition failure).
    public init(value: Int = 1, label: String? = nil) {
        precondition(value >= 0, "Semaphore\(quoted(label)) value \(value) is negative")
        self.permits = value
        self.label = label
    }

    /// Permits available now.
    public var value: Int { permits }

    /// Coroutines waiting for a permit.
    public var waiterCount: Int { waiters.count }

    /// Takes a permit, waiting for one if none is left.
    ///
    /// Throws ``TimeoutError`` after `timeout` and `CancellationError` if cancelled while
    /// waiting (no permit is then taken).
    public func acquire(timeout: Duration? = nil) throws {
        if permits > 0 && waiters.isEmpty {
            permits -= 1
            return
        }
        let coroutine = try AnyCoroutine.requireCurrent("Semaphore.acquire")
        try coroutine.wait(on: self, "acquire", timeout: timeout,
                           enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        // `release` handed its permit to us.
    }

    /// Takes a permit if one is free; never blocks.
    public func tryAcquire() -> Bool {
        guard permits > 0 && waiters.isEmpty else { return false }
        permits -= 1
        return true
    }

    /// Returns a permit: to the longest waiter if any, else to the pool.
    public func release() throws {
        if waiters.signalFirst() == nil {
            try checkRelease()
            permits += 1
        }
    }

    /// Runs `body` holding a permit; releases it however `body` ends.
    public func withPermit<R>(timeout: Duration? = nil, _ body: () throws -> R) throws -> R {
        try acquire(timeout: timeout)
        defer { try? release() }
        return try body()
    }

    /// Hook for ``BoundedSemaphore``.
    func checkRelease() throws {}

    var kind: String { "Semaphore" }

    package var waitDescription: String { "\(kind)\(quoted(label)) (\(permits) free, \(waiters.count) waiting)" }

    public var description: String { waitDescription }
}

/// A semaphore that may not be released above its initial value (gevent's
/// `BoundedSemaphore`): an extra `release` throws ``SyncError/Code/overRelease``, which
/// catches a permit returned twice.
public final class BoundedSemaphore: Semaphore {
    /// The initial (and largest) number of permits.
    public let bound: Int

    public override init(value: Int = 1, label: String? = nil) {
        bound = value
        super.init(value: value, label: label)
    }

    override func checkRelease() throws {
        if permits >= bound {
            throw SyncError(.overRelease, "BoundedSemaphore\(quoted(label)) released above its initial value \(bound)")
        }
    }

    override var kind: String { "BoundedSemaphore" }
}
