/// A reentrant lock (gevent's `RLock`, Python's `threading.RLock`):
/// the coroutine that holds it may acquire it again, and must release it as many times.
///
/// Only the holder may release it; waiters are served first-come first-served.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class RLock: WaitTarget, CustomStringConvertible {
    public let label: String?
    @exclusivity(unchecked) private(set) var ownerID: UInt64 = 0
    @exclusivity(unchecked) private var depth = 0
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Whether some coroutine holds the lock.
    public var isLocked: Bool { ownerID != 0 }

    /// How many times the calling coroutine holds it (0 if it does not).
    public var recursionDepth: Int { ownerID == currentCoroutineID() ? depth : 0 }

    /// Takes the lock (again, if the caller already holds it).
    ///
    /// Throws ``TimeoutError`` after `timeout` and `CancellationError` if cancelled while waiting.
    public func acquire(timeout: Duration? = nil) throws {
        let me = try requireCoroutineID("RLock.acquire")
        if ownerID == me || ownerID == 0 {
            ownerID = me
            depth += 1
            return
        }
        try AnyCoroutine.current.unsafelyUnwrapped.wait(
            on: self, "acquire", timeout: timeout,
            enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        // `release` made us the owner (depth 1) before waking us.
    }

    /// Takes the lock if it is free or already the caller's; never blocks.
    public func tryAcquire() throws -> Bool {
        let me = try requireCoroutineID("RLock.tryAcquire")
        guard ownerID == 0 || ownerID == me else { return false }
        ownerID = me
        depth += 1
        return true
    }

    /// Releases one level; the last one frees the lock for the longest waiter.
    ///
    /// Throws ``SyncError/Code/notOwner`` unless the caller holds it.
    public func release() throws {
        guard ownerID != 0, ownerID == currentCoroutineID() else {
            throw SyncError(.notOwner, "release of RLock\(quoted(label)) by a coroutine that does not hold it")
        }
        depth -= 1
        if depth > 0 { return }
        if let next = waiters.signalFirst() {
            ownerID = next.coroutineID
            depth = 1
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

    package var waitDescription: String {
        var text = "RLock\(quoted(label))"
        if ownerID != 0 {
            let holder = Hub.current?.coroutine(withID: ownerID)?.displayName ?? "#\(ownerID)"
            text += " (held by \(holder), depth \(depth))"
        }
        return text
    }

    public var description: String { waitDescription }
}
