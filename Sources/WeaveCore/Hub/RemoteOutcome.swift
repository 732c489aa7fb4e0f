/// A result computed off the hub's thread (on a thread pool, in a Swift `Task`) for one
/// coroutine that parks until it arrives.
///
/// Creating it marks outside work as pending, so the idle hub waits instead of reporting a
/// deadlock; ``deliver`` hands the result back through the hub's cross-thread queue, ends
/// the outside work and wakes the waiter if it still waits. A waiter that gave up
/// (cancelled, timed out) leaves a late result to be dropped safely. Touched only on the
/// hub's thread, except ``deliver``, which any thread may call.
package final class RemoteOutcome<T: Sendable> {
    unowned(unsafe) let hub: Hub
    private var waiter: AnyCoroutine?
    private var result: Result<T, any Error>?

    package init(waiter: AnyCoroutine) {
        self.hub = waiter.hub
        self.waiter = waiter
        hub.beginOutsideWork()
    }

    /// A closure any thread may call, once, with the result.
    package var deliver: @Sendable (Result<T, any Error>) -> Void {
        let remote = hub.remote
        let bound = HubBound(self)
        return { result in
            // False only once the hub has closed: nobody waits any more then.
            _ = remote.send {
                let outcome = bound.value
                outcome.result = result
                outcome.hub.endOutsideWork()
                if let waiter = outcome.waiter { outcome.hub.makeReady(waiter) }
            }
        }
    }

    /// Parks the waiter until the result arrives and returns it (or rethrows its error).
    /// Throws `TimeoutError` or `CancellationError` if the wait ends first.
    package func wait(_ reason: WaitReason, timeout: Duration?) throws -> T {
        defer { waiter = nil }
        while result == nil {
            try waiter.unsafelyUnwrapped.park(reason, timeout: timeout)
        }
        return try result.unsafelyUnwrapped.get()
    }
}
