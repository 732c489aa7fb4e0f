import CWeaveContext

// The calls a coroutine makes about itself, spelled as Swift's `Task.sleep(for:)`,
// `Task.yield()` and `Task.isCancelled`: `Coroutine.sleep(for:)`, `Coroutine.yield()`,
// `Coroutine.isCancelled`. As with `Task`, the generic parameter is fixed to `Never` so
// that `Coroutine.` needs no type argument.
extension Coroutine where Value == Never {
    /// The coroutine running on this thread, or nil outside any coroutine (another thread,
    /// or the hub's own callbacks).
    ///
    /// A detached coroutine gets its object here, the first time it is asked for.
    public static var current: AnyCoroutine? { AnyCoroutine.current }

    /// Whether the current coroutine has been cancelled (false outside a coroutine).
    public static var isCancelled: Bool { AnyCoroutine.isCancelled }

    /// Throws `CancellationError` if the current coroutine has been cancelled.
    public static func checkCancellation() throws { try AnyCoroutine.checkCancellation() }

    /// Suspends the current coroutine for `duration` (gevent's `sleep`), letting the others run.
    ///
    /// A zero or negative duration is a ``yield()``. The coroutine wakes at the first loop
    /// tick at or after the deadline, never before. Throws `CancellationError` if cancelled
    /// while asleep (promptly) and the ``TimeoutError`` of an enclosing `withTimeout` scope
    /// that expires; ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` outside a coroutine.
    public static func sleep(for duration: Duration) throws { try AnyCoroutine.sleep(for: duration) }

    /// Suspends the current coroutine until `deadline`; see ``sleep(for:)``.
    public static func sleep(until deadline: ContinuousClock.Instant) throws {
        try AnyCoroutine.sleep(for: deadline - .now)
    }

    /// Lets every other runnable coroutine run once, then continues (gevent's `sleep(0)`).
    ///
    /// The coroutine goes to the back of the run queue; control passes straight to the
    /// next ready coroutine. Throws `CancellationError` if cancelled.
    @inlinable
    public static func yield() throws {
        // Inlinable, so that the caller calls the C yield directly: after the switch back,
        // every frame between the caller and the switch is a mispredicted return.
        let status = weave_yield(1)
        if status != WEAVE_YIELD_DONE { try AnyCoroutine.yieldDidNotComplete(status) }
    }
}
