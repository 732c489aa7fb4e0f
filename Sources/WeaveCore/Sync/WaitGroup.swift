/// Waits for a collection of jobs to finish (Go's `sync.WaitGroup`): `add` before starting
/// them, `done` as each ends, `wait` until the count is zero.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class WaitGroup: WaitTarget, CustomStringConvertible {
    public let label: String?
    /// Jobs not yet done.
    public var count: Int { pending }
    @usableFromInline @exclusivity(unchecked) var pending = 0
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Adds `delta` (may be negative) to the counter; at zero every waiter wakes.
    /// Throws ``SyncError/Code/negativeCount`` if the counter would drop below zero.
    public func add(_ delta: Int = 1) throws {
        guard pending + delta >= 0 else {
            throw SyncError(.negativeCount, "WaitGroup\(quoted(label)) counter would drop to \(pending + delta)")
        }
        pending += delta
        if pending == 0 { waiters.signalAll() }
    }

    /// Marks one job finished (`add(-1)`).
    @inlinable
    public func done() throws {
        // Inlinable: most calls only count down (one per finished job, often per coroutine).
        if pending > 1 {
            pending -= 1
        } else {
            try add(-1)
        }
    }

    /// Waits until the counter is zero.
    ///
    /// Throws ``TimeoutError`` after `timeout`, `CancellationError` if cancelled.
    public func wait(timeout: Duration? = nil) throws {
        if pending == 0 { return }
        let coroutine = try AnyCoroutine.requireCurrent("WaitGroup.wait")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while pending > 0 {
            try coroutine.wait(on: self, "wait", timeout: deadline.map { $0 - .now },
                               enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        }
    }

    package var waitDescription: String { "WaitGroup\(quoted(label)) (\(pending) pending)" }

    public var description: String { waitDescription }
}
