import CWeaveContext

extension AnyCoroutine {
    /// The coroutine running on this thread, or nil outside any coroutine (another thread,
    /// or the hub's own callbacks).
    public static var current: AnyCoroutine? {
        guard let sched = weave_sched_current(), let fiber = sched.pointee.current,
              let owner = fiber.pointee.owner else { return nil }
        return Unmanaged<AnyCoroutine>.fromOpaque(owner).takeUnretainedValue()
    }

    static func requireCurrent(_ operation: StaticString = #function) throws(WeaveError) -> AnyCoroutine {
        guard let current else {
            throw WeaveError(.notInCoroutine, "\(operation) must be called from a coroutine (inside Weave.run)")
        }
        return current
    }

    /// Whether the current coroutine has been cancelled (false outside a coroutine).
    public static var isCancelled: Bool { current?.isCancelled ?? false }

    /// Throws `CancellationError` if the current coroutine has been cancelled.
    public static func checkCancellation() throws {
        if isCancelled { throw CancellationError() }
    }

    /// Suspends the current coroutine for `duration` (gevent's `sleep`), letting the others run.
    ///
    /// A zero or negative duration is a ``yield()``. libuv timers have millisecond
    /// resolution: the coroutine wakes at the first loop tick at or after the deadline,
    /// never before. Throws `CancellationError` if cancelled while asleep (promptly) and
    /// the ``TimeoutError`` of an enclosing `withTimeout` scope that expires.
    public static func sleep(for duration: Duration) throws {
        if duration <= .zero { return try yield() }
        let coroutine = try requireCurrent()
        let deadline = Hub.deadline(after: duration)
        let timer = coroutine.hub.addTimer(deadline: deadline, .wake(coroutine))
        defer { coroutine.hub.removeTimer(timer) }
        repeat {
            try coroutine.park(.sleep)
        } while Hub.now() < deadline
    }

    /// Suspends the current coroutine until `deadline`.
    public static func sleep(until deadline: ContinuousClock.Instant) throws {
        try sleep(for: deadline - .now)
    }

    /// Lets every other runnable coroutine run once, then continues (gevent's `sleep(0)`).
    ///
    /// The coroutine goes to the back of the run queue; control passes straight to the
    /// next ready coroutine. Throws `CancellationError` if cancelled.
    public static func yield() throws {
        // Fiber fields only: no Swift object is touched (or retained) unless interrupted.
        guard let fiber = weave_current_fiber(), fiber.pointee.is_host == 0, fiber.pointee.owner != nil else {
            throw WeaveError(.notInCoroutine, "yield() must be called from a coroutine (inside Weave.run)")
        }
        if fiber.pointee.interrupts != 0 { try current.unsafelyUnwrapped.throwInterruption() }
        fiber.pointee.state = WEAVE_FIBER_READY
        weave_sched_yield(weave_sched_current())
        fiber.pointee.state = WEAVE_FIBER_RUNNING
        if fiber.pointee.interrupts & WEAVE_INTERRUPT_CANCELLED != 0 { throw CancellationError() }
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
    static func deferInterruption(_ error: any Error) {
        if !(error is CancellationError), let current, current.pendingError == nil {
            current.pendingError = error
        }
    }
}
