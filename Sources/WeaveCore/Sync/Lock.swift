/// A mutual-exclusion lock for coroutines (gevent's `Lock`, Python's `threading.Lock`).
///
/// Not reentrant: acquiring it again from the coroutine that holds it throws
/// ``SyncError/Code/alreadyHeld`` instead of deadlocking. Only the holder may release it.
/// Waiters get the lock first-come first-served: `release` hands it to the longest waiter.
/// Uncontended, `acquire` and `release` are a few loads and stores (no syscall, no atomic).
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Lock: WaitTarget, CustomStringConvertible {
    /// Shown in deadlock reports and dumps.
    public let label: String?
    @exclusivity(unchecked) private(set) var ownerID: UInt64 = 0
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Whether some coroutine holds the lock.
    public var isLocked: Bool { ownerID != 0 }

    /// Whether the calling coroutine holds the lock.
    public var isHeldByCurrentCoroutine: Bool { ownerID != 0 && ownerID == currentCoroutineID() }

    /// Waits until the lock is free and takes it.
    ///
    /// Throws ``TimeoutError`` after `timeout`, `CancellationError` if cancelled while
    /// waiting (the lock is then not held), ``SyncError/Code/alreadyHeld`` if the caller
    /// holds it already.
    public func acquire(timeout: Duration? = nil) throws {
        let me = try requireCoroutineID("Lock.acquire")
        if ownerID == 0 {
            ownerID = me
            return
        }
        if ownerID == me {
            throw SyncError(.alreadyHeld, "Lock\(quoted(label)) is already held by this coroutine (it is not reentrant; use RLock)")
        }
        try AnyCoroutine.current.unsafelyUnwrapped.wait(
            on: self, "acquire", timeout: timeout,
            enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        // `release` made us the owner before waking us.
    }

    /// Takes the lock if it is free; never blocks.
    public func tryAcquire() throws -> Bool {
        let me = try requireCoroutineID("Lock.tryAcquire")
        guard ownerID == 0 else { return false }
        ownerID = me
        return true
    }

    /// Releases the lock, handing it to the longest waiter if there is one.
    ///
    /// Throws ``SyncError/Code/notOwner`` unless the caller holds it.
    public func release() throws {
        let me = currentCoroutineID()
        guard ownerID != 0, ownerID == me else {
            throw SyncError(.notOwner, "release of Lock\(quoted(label)) by a coroutine that does not hold it")
        }
        if let next = waiters.signalFirst() {
            ownerID = next.coroutineID
        } else {
            ownerID = 0
        }
    }

    /// Runs `body` holding the lock; releases it however `body` ends.
    public func withLock<R>(timeout: Duration? = nil, _ body: () throws -> R) throws -> R {
        try acquire(timeout: timeout)
        defer { try? release() }
        return try body()
    }

    /// Frees the lock for a condition wait (the caller holds it).
    func releaseForWait() { try? release() }

    /// Takes the lock back after a condition wait, whatever interrupts the wait; returns
    /// the interruption to rethrow once the lock is held again.
    func reacquireUninterruptibly() -> (any Error)? {
        let me = currentCoroutineID()
        if ownerID == 0 {
            ownerID = me
            return nil
        }
        let coroutine = AnyCoroutine.current.unsafelyUnwrapped
        let waiter = coroutine.waiter
        var interruption: (any Error)?
        while ownerID != me {
            // Woken by an interruption, the lock may have been freed meanwhile (its release
            // skipped us, as we were no longer parked): take it rather than park for a
            // hand-over that will never come.
            if ownerID == 0 {
                ownerID = me
                break
            }
            if !waiter.isQueued { waiters.append(waiter) }
            if let error = coroutine.parkUninterruptibly(.primitive(self, "reacquire")), interruption == nil {
                interruption = error
            }
        }
        if waiter.isQueued { waiters.remove(waiter) }
        return interruption
    }

    package var waitDescription: String {
        var text = "Lock\(quoted(label))"
        if ownerID != 0 {
            let holder = Hub.current?.coroutine(withID: ownerID)?.displayName ?? "#\(ownerID)"
            text += " (held by \(holder))"
        }
        return text
    }

    public var description: String { waitDescription }
}
