/// A condition variable over a ``Lock`` (Python's `threading.Condition`): wait for a state
/// change while giving the lock up, and be notified by the coroutine that made it.
///
/// ```swift
/// try condition.withLock {
///     while queue.isEmpty { try condition.wait() }
///     consume(queue.removeFirst())
/// }
/// ```
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Condition: WaitTarget, CustomStringConvertible {
    /// The lock the condition is bound to.
    public let lock: Lock
    public let label: String?
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(lock: Lock = Lock(), label: String? = nil) {
        self.lock = lock
        self.label = label
    }

    /// Acquires the condition's lock.
    public func acquire(timeout: Duration? = nil) throws { try lock.acquire(timeout: timeout) }

    /// Releases the condition's lock.
    public func release() throws { try lock.release() }

    /// Runs `body` holding the condition's lock.
    public func withLock<R>(timeout: Duration? = nil, _ body: () throws -> R) throws -> R {
        try lock.withLock(timeout: timeout, body)
    }

    /// Releases the lock, waits for a notification, and takes the lock back before
    /// returning or throwing (even when cancelled or timed out, as Python does).
    ///
    /// Throws ``SyncError/Code/notOwner`` unless the caller holds the lock,
    /// ``TimeoutError`` after `timeout` and `CancellationError` if cancelled.
    public func wait(timeout: Duration? = nil) throws {
        guard lock.isHeldByCurrentCoroutine else {
            throw SyncError(.notOwner, "Condition\(quoted(label)).wait called without holding its lock")
        }
        let coroutine = AnyCoroutine.current.unsafelyUnwrapped
        let waiter = coroutine.waiter
        waiters.append(waiter)
        lock.releaseForWait()
        var failure: (any Error)?
        do {
            try coroutine.park(.primitive(self, "wait"), timeout: timeout)
        } catch {
            failure = error
        }
        if waiter.isQueued { waiters.remove(waiter) }
        if let interruption = lock.reacquireUninterruptibly(), failure == nil { failure = interruption }
        if let failure { throw failure }
    }

    /// Waits until `predicate` holds, re-checking it after each notification.
    public func wait(timeout: Duration? = nil, until predicate: () throws -> Bool) throws {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while try !predicate() {
            try wait(timeout: deadline.map { $0 - .now })
        }
    }

    /// Wakes up to `count` waiters. The caller must hold the lock.
    public func notify(_ count: Int = 1) throws {
        guard lock.isHeldByCurrentCoroutine else {
            throw SyncError(.notOwner, "Condition\(quoted(label)).notify called without holding its lock")
        }
        for _ in 0..<max(0, count) where waiters.signalFirst() != nil {}
    }

    /// Wakes every waiter. The caller must hold the lock.
    public func notifyAll() throws {
        guard lock.isHeldByCurrentCoroutine else {
            throw SyncError(.notOwner, "Condition\(quoted(label)).notifyAll called without holding its lock")
        }
        waiters.signalAll()
    }

    package var waitDescription: String { "Condition\(quoted(label)) (\(waiters.count) waiting)" }

    public var description: String { waitDescription }
}
