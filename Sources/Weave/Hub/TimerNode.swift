/// One pending deadline in a hub's timer heap.
final class TimerNode {
    enum Action {
        /// Wake a sleeping coroutine if it is parked. The timer lives only as long as the
        /// call that armed it, so a parked coroutine is parked in that call.
        case wake(AnyCoroutine)
        /// Fail a coroutine's wait with a timeout, if it is still parked in it (a coroutine
        /// already woken keeps its result).
        case failWait(AnyCoroutine, WaitReason, Duration)
        /// A `withTimeout` scope expired: interrupt the coroutine wherever it is parked,
        /// or at its next suspension point.
        case expireScope(AnyCoroutine, TimeoutError)
        /// Run a closure on the hub (never blocks).
        case callback(() -> Void)
    }

    /// `uv_hrtime()` nanoseconds.
    let deadline: UInt64
    /// Breaks ties in arming order, so equal deadlines fire first-in first-out.
    let sequence: UInt64
    let action: Action
    /// Position in the heap, or -1 once fired or removed.
    var index = -1

    init(deadline: UInt64, sequence: UInt64, action: Action) {
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    func fires(before other: TimerNode) -> Bool {
        deadline < other.deadline || (deadline == other.deadline && sequence < other.sequence)
    }
}
