import CWeaveContext

/// A wait-queue entry owned by a Swift object, for the few waits that manage their entry
/// themselves (a select's cases, `Condition`, reacquiring a lock). Most waits keep theirs
/// in their own stack frame instead (``AnyCoroutine/wait(on:_:timeout:slot:enqueue:dequeue:)``).
final class Waiter {
    /// The C entry the queues link; allocated with the waiter, freed with it.
    let node: UnsafeMutablePointer<weave_waiter>
    /// Keeps a select's shared state alive while its entries may be queued.
    var group: SelectState? {
        didSet { node.pointee.group = group?.state }
    }

    init(_ coroutine: AnyCoroutine) {
        node = .allocate(capacity: 1)
        node.initialize(to: weave_waiter())
        node.pointee.fiber = coroutine.fiber.unsafelyUnwrapped
    }

    deinit {
        node.deallocate()
    }

    /// In a queue right now.
    var isQueued: Bool { node.pointee.queued != 0 }
    /// Woken through the queue: the wait was satisfied (a lock handed over, a value
    /// delivered, or the primitive closed), as opposed to cancelled or timed out.
    var isSignaled: Bool { node.pointee.signaled != 0 }
    /// The wait ended because the primitive closed rather than because it was satisfied.
    var sawClose: Bool { node.pointee.saw_close != 0 }
    /// A value slot handed to whoever signals.
    var slot: UnsafeMutableRawPointer? {
        get { node.pointee.slot }
        set { node.pointee.slot = newValue }
    }
    /// Which case of a select this waiter stands for.
    var caseIndex: Int {
        get { Int(node.pointee.case_index) }
        set { node.pointee.case_index = Int32(newValue) }
    }
}

/// Shared by the waiters of one `Channel.select`: the first case to fire closes it.
final class SelectState {
    let state: UnsafeMutablePointer<weave_select_state>

    init() {
        state = .allocate(capacity: 1)
        state.initialize(to: weave_select_state(open: 1, fired_case: -1))
    }

    deinit { state.deallocate() }

    var isOpen: Bool { state.pointee.open != 0 }
    var firedCase: Int { Int(state.pointee.fired_case) }
}

extension AnyCoroutine {
    /// This coroutine's reusable waiter, for waits that keep their entry across parks.
    var waiter: Waiter {
        if let existing = ownWaiter { return existing }
        let created = Waiter(self)
        ownWaiter = created
        return created
    }
}
