import CLibUV
import CWeaveContext

extension Hub {
    /// Now, in `uv_hrtime()` nanoseconds (CLOCK_MONOTONIC).
    static func now() -> UInt64 { uv_hrtime() }

    /// Nanoseconds from now until `duration` has passed, saturating.
    static func deadline(after duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return now() }
        let nanos = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let total = nanos.partialValue.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        if nanos.overflow || total.overflow { return .max }
        let sum = now().addingReportingOverflow(total.partialValue)
        return sum.overflow ? .max : sum.partialValue
    }

    /// Schedules `action` at `deadline` (hrtime ns).
    @discardableResult
    func addTimer(deadline: UInt64, _ action: TimerNode.Action) -> TimerNode {
        timerSequence &+= 1
        let node = TimerNode(deadline: deadline, sequence: timerSequence, action: action)
        timers.insert(node)
        if timers.first === node { armTimer() }
        return node
    }

    /// Cancels a timer that may already have fired. A removed earliest deadline leaves the
    /// uv timer armed: it fires early, finds nothing due, and re-arms.
    func removeTimer(_ node: TimerNode) {
        timers.remove(node)
    }

    /// Arms the uv timer for the earliest deadline. libuv times from the loop's cached
    /// millisecond clock, so the time is refreshed first and the delay rounded up: the
    /// timer never fires before the deadline, and `fireTimers` re-checks anyway.
    func armTimer() {
        guard let first = timers.first else {
            if armedDeadline != nil {
                uv_timer_stop(timerHandle)
                armedDeadline = nil
            }
            return
        }
        if armedDeadline == first.deadline { return }
        uv_update_time(loop)
        let loopNow = uv_now(loop) &* 1_000_000
        let delay = first.deadline > loopNow ? (first.deadline - loopNow + 999_999) / 1_000_000 : 0
        uv_timer_start(timerHandle, hubTimerCallback, delay, 0)
        armedDeadline = first.deadline
    }

    /// Fires every timer whose deadline has passed, then re-arms for the next one.
    func fireTimers() {
        armedDeadline = nil
        let now = Hub.now()
        while let first = timers.first, first.deadline <= now {
            timers.remove(first)
            fire(first)
        }
        armTimer()
    }

    private func fire(_ node: TimerNode) {
        switch node.action {
        case .wake(let coroutine):
            makeReady(coroutine)
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
    Unmanaged<Hub>.fromOpaque(data).takeUnretainedValue().fireTimers()
}
