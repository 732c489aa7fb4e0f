import CWeaveContext

extension AnyCoroutine {
    /// The coroutine running on this thread, or nil outside any coroutine (another thread,
    /// or the hub's own callbacks).
    ///
    /// A detached coroutine gets its object here, the first time it is asked for.
    package static var current: AnyCoroutine? {
        guard let fiber = weave_current_fiber(), fiber.isLiveCoroutine else { return nil }
        return AnyCoroutine.of(fiber)
    }

    package static func requireCurrent(_ operation: StaticString = #function) throws(WeaveError) -> AnyCoroutine {
        guard let current else {
            throw WeaveError(.notInCoroutine, "\(operation) must be called from a coroutine (inside Hub.run)")
        }
        return current
    }

    /// Whether the current coroutine has been cancelled (false outside a coroutine).
    static var isCancelled: Bool { current?.isCancelled ?? false }

    /// Throws `CancellationError` if the current coroutine has been cancelled.
    static func checkCancellation() throws {
        if isCancelled { throw CancellationError() }
    }

    /// Suspends the current coroutine for `duration` (gevent's `sleep`), letting the others run.
    ///
    /// A zero or negative duration is a ``yield()``. libuv timers have millisecond
    /// resolution: the coroutine wakes at the first loop tick at or after the deadline,
    /// never before. Throws `CancellationError` if cancelled while asleep (promptly) and
    /// the ``TimeoutError`` of an enclosing `withTimeout` scope that expires.
    package static func sleep(for duration: Duration) throws {
        if duration <= .zero { return try yield() }
        // On the fiber, not the coroutine object: a detached coroutine has none, and making
        // one would cost an allocation per sleep. The object is made only to throw.
        guard let fiber = weave_current_fiber(), fiber.isLiveCoroutine else {
            throw WeaveError(.notInCoroutine, "sleep(for:) must be called from a coroutine (inside Hub.run)")
        }
        let sched = weave_sched_current().unsafelyUnwrapped
        let hub = Hub.of(sched)
        let deadline = Hub.deadline(after: duration)
        fiber.pointee.timer_fired = 0
        let timer = hub.addTimer(deadline: deadline, .wake(fiber))
        // A fired timer is gone already: no look-up in the heap's table (a cache miss).
        defer { if fiber.pointee.timer_fired == 0 { hub.removeTimer(timer) } }
        repeat {
            if fiber.pointee.interrupts != 0 { try AnyCoroutine.of(fiber).throwInterruption() }
            fiber.pointee.wait_object = Hub.sleepWaitMarker
            fiber.pointee.state = WEAVE_FIBER_PARKED
            weave_sched_suspend(sched)
            fiber.pointee.state = WEAVE_FIBER_RUNNING
            fiber.pointee.wait_object = nil
            if fiber.pointee.interrupts & WEAVE_INTERRUPT_RESUME_ERROR != 0 { try AnyCoroutine.of(fiber).throwResumeError() }
        } while Hub.now() < deadline
    }

    /// Suspends the current coroutine until `deadline`.
    static func sleep(until deadline: ContinuousClock.Instant) throws {
        try sleep(for: deadline - .now)
    }

    /// Lets every other runnable coroutine run once, then continues (gevent's `sleep(0)`).
    ///
    /// The coroutine goes to the back of the run queue; control passes straight to the
    /// next ready coroutine. Throws `CancellationError` if cancelled.
    @inlinable
    static func yield() throws {
        // Inlinable, so that the caller calls the C yield directly: after the switch back,
        // every frame between the caller and the switch is a mispredicted return.
        let status = weave_yield(1)
        if status != WEAVE_YIELD_DONE { try yieldDidNotComplete(status) }
    }

    /// The rare outcomes of `weave_yield`.
    @usableFromInline
    static func yieldDidNotComplete(_ status: Int32) throws {
        switch status {
        case WEAVE_YIELD_NOT_COROUTINE:
            throw WeaveError(.notInCoroutine, "yield() must be called from a coroutine (inside Hub.run)")
        case WEAVE_YIELD_INTERRUPTED:
            try current.unsafelyUnwrapped.throwInterruption()
            // Nothing to throw after all: yield as asked.
            if weave_yield(0) == WEAVE_YIELD_CANCELLED { throw CancellationError() }
        default:
            throw CancellationError()
        }
    }

    /// Throws what a suspension point must throw now: `CancellationError` once cancelled,
    /// else the pending interruption (consumed).
    final func throwInterruption() throws {
        if isCancelled { throw CancellationError() }
        if let error = pendingError {
            pendingError = nil
            throw error
        }
    }
}

extension AnyCoroutine {
    /// Keeps an interruption (an expired timeout scope) that a non-throwing API had to
    /// swallow, so the coroutine's next blocking call throws it. Cancellation is sticky
    /// and needs no keeping.
    @usableFromInline
    package static func deferInterruption(_ error: any Error) {
        if !(error is CancellationError), let current, current.pendingError == nil {
            current.pendingError = error
        }
    }
}

extension UnsafeMutablePointer where Pointee == weave_fiber {
    /// Whether this fiber is a coroutine that can still block (`weave_fiber_is_live`).
    var isLiveCoroutine: Bool { weave_fiber_is_live(self) != 0 }
}
