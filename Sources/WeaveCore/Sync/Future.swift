/// A one-shot result coroutines can wait for (gevent's `AsyncResult`, Python's `concurrent.futures.Future`): set once
/// with a value or an error, then every `get` returns it.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Future<Value>: WaitTarget, CustomStringConvertible {
    public let label: String?
    @exclusivity(unchecked) private var outcome: Result<Value, any Error>?
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Whether a value or an error has been set.
    public var isReady: Bool { outcome != nil }

    /// The value, if set and successful.
    public var value: Value? { try? outcome?.get() }

    /// The error, if failed.
    public var error: (any Error)? {
        if case .failure(let error) = outcome { return error }
        return nil
    }

    /// Resolves with `value` and wakes every waiter. Throws ``SyncError/Code/alreadyResolved``
    /// if already resolved.
    public func set(_ value: Value) throws {
        try resolve(.success(value))
    }

    /// Resolves with `error` and wakes every waiter. Throws ``SyncError/Code/alreadyResolved``
    /// if already resolved.
    public func fail(_ error: any Error) throws {
        try resolve(.failure(error))
    }

    private func resolve(_ result: Result<Value, any Error>) throws {
        guard outcome == nil else {
            throw SyncError(.alreadyResolved, "Future\(quoted(label)) is already resolved")
        }
        outcome = result
        waiters.signalAll()
    }

    /// Waits until resolved, then returns the value or throws the error it was failed with.
    ///
    /// Throws ``TimeoutError`` after `timeout`, `CancellationError` if cancelled.
    public func get(timeout: Duration? = nil) throws -> Value {
        try wait(timeout: timeout)
        return try outcome.unsafelyUnwrapped.get()
    }

    /// Waits until resolved, without throwing the stored error.
    public func wait(timeout: Duration? = nil) throws {
        if outcome != nil { return }
        let coroutine = try AnyCoroutine.requireCurrent("Future.wait")
        try coroutine.wait(on: self, "get", timeout: timeout,
                           enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
    }

    package var waitDescription: String { "Future\(quoted(label)) (\(outcome == nil ? "pending" : "ready"))" }

    public var description: String { waitDescription }
}
