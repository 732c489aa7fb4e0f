import CWeaveContext

/// One coroutine's place in a ``WaitQueue``.
///
/// Every coroutine owns one, reused for each wait (a coroutine waits on one thing at a
/// time), so blocking costs no allocation; `Channel.select` makes extra ones, one per case.
/// Links are unowned: a waiter is kept alive by its coroutine (or by the select waiting).
final class Waiter {
    unowned(unsafe) let coroutine: AnyCoroutine
    /// The coroutine's fiber (valid while it lives, which outlasts any wait of it).
    let fiber: UnsafeMutablePointer<weave_fiber>
    unowned(unsafe) var next: Waiter?
    unowned(unsafe) var previous: Waiter?
    /// In a queue right now.
    var isQueued = false
    /// Set by whoever woke it through the queue: the wait was satisfied (a lock handed
    /// over, a value delivered), as opposed to cancelled or timed out.
    var isSignaled = false
    /// Set when the wait ended because the primitive closed (a channel closed, a queue
    /// shut down) rather than because it was satisfied.
    var sawClose = false
    /// Points at a value slot on the waiting coroutine's stack (which stays put while it is
    /// parked): a channel hands values over through it without boxing.
    var slot: UnsafeMutableRawPointer?
    /// Which case of a select this waiter stands for.
    var caseIndex = 0
    /// For a select: the waiters of its other cases, all invalid once one fires.
    var group: SelectState?

    init(_ coroutine: AnyCoroutine) {
        self.coroutine = coroutine
        self.fiber = coroutine.fiber.unsafelyUnwrapped
    }

    /// Whether waking it through a queue still counts: its coroutine is parked in this wait
    /// (not already woken by cancellation, a timeout or another select case).
    var isWaiting: Bool {
        fiber.pointee.state == WEAVE_FIBER_PARKED && (group?.isOpen ?? true)
    }
}

/// Shared by the waiters of one `Channel.select`: the first case to fire closes it.
final class SelectState {
    var isOpen = true
    var firedCase = -1
}

extension AnyCoroutine {
    /// This coroutine's reusable waiter.
    var waiter: Waiter {
        if let existing = ownWaiter { return existing }
        let created = Waiter(self)
        ownWaiter = created
        return created
    }
}
