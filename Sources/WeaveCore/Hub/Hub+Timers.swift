import CLibUV
import CWeaveContext

extension Hub {
    /// What `sleep` leaves in `weave_fiber.wait_object` (where a wait on a primitive leaves
    /// the primitive), so that reports say "sleep" without the coroutine object. Never a
    /// valid object address (objects are aligned), never dereferenced.
    @inline(__always)
    static var sleepWaitMarker: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1).unsafelyUnwrapped }

    /// Now, in `uv_hrtime()` nanoseconds (CLOCK_MONOTONIC).
    static func now() -> UInt64 { uv_hrtime() }

    /// Nanoseconds from now until `duration` has passed, saturating.
    package static func deadline(after duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return now() }
        let nanos = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let total = nanos.partialValue.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        if nanos.overflow || total.overflow { return .max }
        let sum = now().addingReportingOverflow(total.partialValue)
        return sum.overflow ? .max : sum.partialValue
    }

    /// The whole milliseconds to give `uv_timer_start` at `now` (hrtime ns) so that the loop
    /// wakes at `deadline`, never before: the remaining time rounded up.
    ///
    /// libuv adds the delay to its cached clock (`uv_now`, whole milliseconds, floored), and
    /// its poll then sleeps for the difference between that expiry and the same cached
    /// clock, counted by the kernel from the real current time. So the delay must be
    /// measured from the real time, not from `uv_now`: measuring from the floored clock and
    /// rounding up again is what made every sleep about 1 ms late. The caller refreshes the
    /// cached clock first (`uv_update_time`), so that the poll counts from the same tick.
    static func timerDelay(now: UInt64, deadline: UInt64) -> UInt64 {
        guard deadline > now else { return 0 }
        let remaining = deadline - now
        return remaining / 1_000_000 + (remaining % 1_000_000 == 0 ? 0 : 1)
    }

    /// Schedules `action` at `deadline` (hrtime ns).
    @discardableResult
    package func addTimer(deadline: UInt64, _ action: TimerNode.Action) -> TimerNode {
        let node = timers.insert(deadline: deadline, action)
        // Only an earlier deadline needs the uv timer now; the prepare callback re-arms
        // precisely just before the loop blocks.
        if armedDeadline.map({ deadline < $0 }) ?? true { armTimer() }
        return node
    }

    /// Cancels a timer that may already have fired; returns whether it was still pending. A
    /// removed earliest deadline leaves the uv timer armed: it fires early, finds nothing
    /// due, and re-arms.
    @discardableResult
    package func removeTimer(_ node: TimerNode) -> Bool {
        timers.remove(node)
    }

    /// Arms the uv timer for the earliest deadline (see `timerDelay`), or stops it when
    /// nothing is pending. Cheap when nothing changed: two clock reads.
    func armTimer() {
        guard let first = timers.first() else {
            if armedExpiry != nil {
                uv_timer_stop(timerHandle)
                armedExpiry = nil
            }
            armedDeadline = nil
            return
        }
        uv_update_time(loop)
        let delay = Hub.timerDelay(now: Hub.now(), deadline: first.deadline)
        let expiry = uv_now(loop) &+ delay
        armedDeadline = first.deadline
        if expiry == armedExpiry { return }
        uv_timer_start(timerHandle, hubTimerCallback, delay, 0)
        armedExpiry = expiry
    }

    /// Fires the timers whose deadline has passed, in deadline order, then re-arms for the
    /// next one.
    ///
    /// A timer that interrupts a coroutine (a timed-out wait, an expired scope, a callback)
    /// does not fire in the same batch as an earlier timer that made coroutines ready: the
    /// batch stops there (`timersDeferred`), the run queue runs, and the rest fires after.
    /// So a result due before a deadline wins over it, even when the loop reaches both
    /// deadlines late (gevent runs each timer's greenlet before the next timer).
    func fireTimers() {
        timersDeferred = false
        let now = Hub.now()
        let readyBefore = sched.pointee.ready_count
        while let first = timers.first(), first.deadline <= now {
            guard first.interrupts else {
                guard case .wake(let fiber)? = timers.popFirst() else { preconditionFailure("a wake-up timer without its fiber") }
                weave_sched_wake_soon(sched, fiber)
                continue
            }
            weave_sched_wake_now(sched)
            if sched.pointee.ready_count != readyBefore {
                // Not re-armed: an expired uv timer would fire again within this same
                // `uv__run_timers` pass, before anything ran. `drive` resumes the batch
                // once the run queue has had its turn.
                timersDeferred = true
                return
            }
            fire(timers.popFirst().unsafelyUnwrapped)
        }
        weave_sched_wake_now(sched)
        armTimer()
    }

    /// Fires what is due when the poll returned at a deadline that libuv's millisecond
    /// clock has not reached yet. (A stopped batch waits for the run queue instead.)
    func fireDueTimers() {
        if !timersDeferred, let first = timers.first(), first.deadline <= Hub.now() { fireTimers() }
    }

    private func fire(_ action: TimerNode.Action) {
        switch action {
        case .wake(let fiber):
            weave_fiber_wake_sleeper(sched, fiber)
        case .failWait(let coroutine, let reason, let timeout):
            guard coroutine.state == .parked else { return }
            coroutine.resumeError = TimeoutError(operation: reason.description, timeout: timeout)
            makeReady(coroutine)
        case .expireScope(let coroutine, let error):
            coroutine.interrupt(with: error)
        case .callback(let body):
            body()
        }
    }
}

private let hubTimerCallback: @convention(c) (UnsafeMutablePointer<uv_timer_t>?) -> Void = { handle in
    guard let data = handle?.pointee.data else { return }
    let hub = Unmanaged<Hub>.fromOpaque(data).takeUnretainedValue()
    // The uv timer is stopped now (it does not repeat): arm it again whatever the expiry.
    hub.armedExpiry = nil
    hub.fireTimers()
}
