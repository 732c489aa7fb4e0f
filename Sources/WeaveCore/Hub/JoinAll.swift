/// Waits until every coroutine in `coroutines` has finished (gevent's `joinall`).
///
/// Does not rethrow the coroutines' errors: read each one's ``Coroutine/result``, or use
/// ``withCoroutineGroup(_:)`` for fail-fast semantics. Throws ``TimeoutError`` once
/// `timeout` passes (the coroutines keep running) and `CancellationError` if the caller
/// is cancelled.
public func joinAll(_ coroutines: [AnyCoroutine], timeout: Duration? = nil) throws {
    // One at a time: by the time the first has finished most others usually have too,
    // so few waits register a wake-up at all.
    let deadline = timeout.map { ContinuousClock.now + $0 }
    for coroutine in coroutines where !coroutine.isFinished {
        try coroutine.waitUntilFinished(timeout: deadline.map { $0 - .now })
    }
}

/// Returns the coroutines one by one as they finish (gevent's `iwait`).
///
/// ```swift
/// let done = completed(workers)
/// while let worker = try done.next() { print(worker.displayName, "finished") }
/// ```
public func completed(_ coroutines: [AnyCoroutine]) -> Completions {
    Completions(coroutines)
}

/// Finished coroutines in the order they finish; see ``completed(_:)``.
///
/// Read it with ``next(timeout:)``, which throws when the wait is interrupted, or with a
/// `for` loop. The elements cannot fail (each coroutine holds its own outcome: `join()` it),
/// so the loop gets them plainly; if the waiting coroutine is cancelled or an enclosing
/// `withTimeout` scope expires, the loop ends and the interruption is kept, as a `for`
/// loop over a ``Channel`` does: the coroutine's next blocking call and the scope throw it.
public final class Completions: Sequence {
    private var finished: [AnyCoroutine] = []
    private var delivered = 0
    private let total: Int
    private var waiter: Wakeup?

    init(_ coroutines: [AnyCoroutine]) {
        total = coroutines.count
        for coroutine in coroutines {
            coroutine.onFinish { [weak self] done in
                guard let self else { return }
                self.finished.append(done)
                self.waiter?.fire()
            }
        }
    }

    /// Coroutines not yet returned by ``next(timeout:)``.
    public var remaining: Int { total - delivered }

    /// The next coroutine to finish, parking until one does; nil once all were returned.
    ///
    /// Throws ``TimeoutError`` if none finishes within `timeout`, `CancellationError` if
    /// the caller is cancelled; a later call picks up where this one stopped.
    public func next(timeout: Duration? = nil) throws -> AnyCoroutine? {
        if delivered == total { return nil }
        if delivered == finished.count {
            let current = try AnyCoroutine.requireCurrent()
            let wake = Wakeup(current)
            waiter = wake
            defer { wake.disarm(); waiter = nil }
            while delivered == finished.count {
                try current.park(.completions, timeout: timeout)
            }
        }
        delivered += 1
        return finished[delivered - 1]
    }

    /// See ``Completions``: iteration ends at the last coroutine, or early, keeping the
    /// interruption, when the waiting coroutine is interrupted.
    public func makeIterator() -> Iterator { Iterator(completions: self) }

    /// See ``Completions/makeIterator()``.
    public struct Iterator: IteratorProtocol {
        let completions: Completions

        public mutating func next() -> AnyCoroutine? {
            do {
                return try completions.next()
            } catch {
                AnyCoroutine.deferInterruption(error)
                return nil
            }
        }
    }
}
