import CWeaveContext

/// One pending timer of a hub: where its action waits in the hub's ``TimerHeap``, and the
/// sequence number that tells it from later timers given the same place. A plain value,
/// so arming a timer allocates nothing; removing one that has fired does nothing.
package struct TimerNode {
    package enum Action {
        /// Wake a sleeping coroutine if it is parked. The timer lives only as long as the
        /// call that armed it, so a parked coroutine is parked in that call, and its fiber
        /// (unretained: no reference counting per sleep) is alive until the call returns.
        case wake(UnsafeMutablePointer<weave_fiber>)
        /// Fail a coroutine's wait with a timeout, if it is still parked in it (a coroutine
        /// already woken keeps its result).
        case failWait(AnyCoroutine, WaitReason, Duration)
        /// A `withTimeout` scope expired: interrupt the coroutine wherever it is parked,
        /// or at its next suspension point.
        case expireScope(AnyCoroutine, TimeoutError)
        /// Run a closure on the hub (never blocks).
        case callback(() -> Void)
    }

    /// The timer's index in the heap's table of actions.
    let slot: UInt32
    /// Unique among pending timers; 0 is never given out.
    let sequence: UInt32
}
