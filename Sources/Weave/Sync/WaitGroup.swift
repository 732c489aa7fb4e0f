/// Waits for a collection of jobs to finish (Go's `sync.WaitGroup`): `add` before starting
/// them, `done` as each ends, `wait` until the count is zero.
public final class WaitGroup: WaitTarget, CustomStringConvertible {
    public let label: String?
    @exclusivity(unchecked) private(set) public var count = 0
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Adds `delta` (may be negative) to the counter; at zero every waiter wakes.
    /// Throws ``SyncError/Code/negativeCount`` if the counter would drop below zero.
    public func add(_ delta: Int = 1) throws {
        guard count + delta >= 0 else {
            throw SyncError(.negativeCount, "WaitGroup\(quoted(label)) counter would drop to \(count + delta)")
        }
        count += delta
        if count == 0 { waiters.signalAll() }
    }

    /// Marks one job finished (`add(-1)`).
    public func done() throws {
        try add(-1)
    }

    /// Waits until the counter is zero.
    ///
    /// Throws ``TimeoutError`` after `timeout`, `CancellationError` if cancelled.
    public func wait(timeout: Duration? = nil) throws {
        if count == 0 { return }
        let coroutine = try AnyCoroutine.requireCurrent("WaitGroup.wait")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while count > 0 {
            try coroutine.wait(on: self, "wait", timeout: deadline.map { $0 - .now },
                               enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        }
    }

    var waitDescription: String { "WaitGroup\(quoted(label)) (\(count) pending)" }

    public var description: String { waitDescription }
}
