import CWeaveContext

/// A FIFO of parked coroutines: the heart of every blocking primitive.
///
/// Waking is first-come first-served, and skips waiters whose coroutine was already woken
/// for another reason (cancelled, timed out, another select case fired), so a signal is
/// never swallowed by a waiter that is leaving: it passes to the next one. A waiter that
/// leaves without being signalled removes itself once it runs again.
///
/// The links live in C (`weave_waitq`, `weave_waiter`): queueing and waking touch no Swift
/// object, so they cost no reference counting. Waiters usually sit in the waiting call's
/// stack frame (see ``AnyCoroutine/wait(on:_:timeout:slot:enqueue:dequeue:)``).
package struct WaitQueue {
    // Inlinable into the I/O and process layers' waits and wake-ups: each is a C call.
    @usableFromInline var queue = weave_waitq()
#if DEBUG
    /// Debug builds only: the scheduler (hub thread) whose coroutines wait here, to trap a
    /// hub-local primitive used from another hub before it corrupts that hub's run queue.
    @usableFromInline var ownerScheduler: UnsafeMutableRawPointer?
#endif

    package init() {}

    /// Debug builds trap when this queue, holding waiters of one hub, is touched from another
    /// thread (another hub's, or a plain thread's): a hub-local primitive crossing hubs would
    /// otherwise link and wake coroutines of a scheduler it does not run on. Release builds
    /// check nothing (the wait and wake paths stay a C call each).
    @inlinable @inline(__always)
    mutating func checkHub(_ operation: StaticString) {
#if DEBUG
        let current = UnsafeMutableRawPointer(weave_sched_current())
        if queue.head != nil, let owner = ownerScheduler, owner != current {
            crossHubUse(operation)
        }
        if queue.head == nil { ownerScheduler = current }
#endif
    }

    @inlinable package var isEmpty: Bool { queue.head == nil }
    var count: Int { queue.count }

    @inlinable
    package mutating func append(_ waiter: UnsafeMutablePointer<weave_waiter>) {
        checkHub("wait on")
        weave_waitq_append(&queue, waiter)
    }

    @inlinable
    package mutating func remove(_ waiter: UnsafeMutablePointer<weave_waiter>) {
        weave_waitq_remove(&queue, waiter)
    }

    mutating func append(_ waiter: Waiter) { append(waiter.node) }
    mutating func remove(_ waiter: Waiter) { remove(waiter.node) }

    /// Whether some waiter is still waiting (dropping those found leaving).
    mutating func hasWaiting() -> Bool {
        weave_waitq_first_waiting(&queue) != nil
    }

    /// Wakes the first waiter still waiting, marking it signalled. Returns it, or nil.
    @inlinable @discardableResult
    package mutating func signalFirst() -> UnsafeMutablePointer<weave_waiter>? {
        checkHub("wake")
        return weave_waitq_signal_first(&queue, 0)
    }

    /// Wakes the first waiter still waiting and returns its value slot (nil if none waits).
    @inline(__always)
    mutating func signalFirstSlot() -> UnsafeMutableRawPointer? {
        checkHub("wake")
        return weave_waitq_signal_first(&queue, 0)?.pointee.slot
    }

    /// Wakes every waiter still waiting. Returns how many.
    @inlinable @discardableResult
    package mutating func signalAll() -> Int {
        checkHub("wake")
        var woken = 0
        while weave_waitq_signal_first(&queue, 0) != nil { woken += 1 }
        return woken
    }

    /// Wakes every waiter still waiting with `sawClose` set: the primitive closed under them.
    mutating func closeAll() {
        checkHub("close")
        while weave_waitq_signal_first(&queue, 1) != nil {}
    }
}

/// The debug trap of ``WaitQueue/checkHub(_:)``, out of line so the check inlines small.
@usableFromInline @inline(never)
func crossHubUse(_ operation: StaticString) -> Never {
    preconditionFailure("""
        Weave: tried to \(operation) a hub-local primitive (Event, Lock, Queue, Channel, ...) from \
        a thread other than the hub whose coroutines wait on it. Such primitives belong to one \
        hub; between the hubs of a HubGroup use CrossHubChannel or HubGroup.Member.run.
        """)
}

extension UnsafeMutablePointer where Pointee == weave_waiter {
    /// The id of the waiting coroutine.
    var coroutineID: UInt64 { pointee.fiber.pointee.id }
}

/// A primitive a coroutine can be parked on, described for deadlock reports and dumps.
package protocol WaitTarget: AnyObject {
    /// Such as `Lock 'db' (held by 'writer')` or `Queue 'jobs' (3 of 10 items)`.
    var waitDescription: String { get }
}

extension AnyCoroutine {
    /// Parks the current coroutine in a primitive's wait queue until signalled; on
    /// cancellation or timeout leaves the queue and throws. Returns whether the wait ended
    /// because the primitive closed (`closeAll`).
    ///
    /// The waiter lives in this frame, and `enqueue`/`dequeue` put it in and take it out of
    /// the caller's stored queue, so no access spans the park. `slot`, if given, is handed
    /// to whoever signals (a value to copy in or out). `target` and `operation` name the
    /// wait in deadlock reports (`target` should conform to `WaitTarget` for a description).
    @discardableResult
    package static func wait(
        on target: AnyObject, _ operation: StaticString, timeout: Duration? = nil,
        slot: UnsafeMutableRawPointer? = nil,
        enqueue: (UnsafeMutablePointer<weave_waiter>) -> Void,
        dequeue: (UnsafeMutablePointer<weave_waiter>) -> Void
    ) throws -> Bool {
        guard let fiber = weave_current_fiber(), fiber.isLiveCoroutine else {
            let name = (target as? any WaitTarget)?.waitDescription ?? "\(type(of: target))"
            throw WeaveError(.notInCoroutine, "\(name) \(operation) must be called from a coroutine (inside Hub.run)")
        }
        // The coroutine object is needed only for interruptions and timeouts, not for the
        // common wait (a detached coroutine may have none yet).
        func coroutine() -> AnyCoroutine { AnyCoroutine.of(fiber) }
        if fiber.pointee.interrupts != 0 { try coroutine().throwInterruption() }
        var node = weave_waiter()
        node.fiber = fiber
        node.slot = slot
        return try withUnsafeMutablePointer(to: &node) { node in
            enqueue(node)
            defer { if node.pointee.queued != 0 { dequeue(node) } }
            if let timeout {
                try coroutine().park(.primitive(Unmanaged.passUnretained(target), WaitOperation(operation)), timeout: timeout)
            } else {
                // Unretained (the waiting call holds the primitive), and not as `any WaitTarget`:
                // that conversion looks up a witness table for generic primitives on every wait.
                fiber.pointee.wait_object = Unmanaged.passUnretained(target).toOpaque()
                fiber.pointee.wait_operation = UnsafeRawPointer(operation.utf8Start).assumingMemoryBound(to: CChar.self)
                fiber.pointee.wait_operation_length = UInt32(operation.utf8CodeUnitCount)
                fiber.pointee.state = WEAVE_FIBER_PARKED
                weave_sched_suspend(weave_sched_current())
                fiber.pointee.state = WEAVE_FIBER_RUNNING
                fiber.pointee.wait_object = nil
                if fiber.pointee.interrupts & WEAVE_INTERRUPT_RESUME_ERROR != 0 { try coroutine().throwResumeError() }
            }
            return node.pointee.saw_close != 0
        }
    }
}

extension AnyCoroutine {
    /// ``wait(on:_:timeout:slot:enqueue:dequeue:)`` for the coroutine at hand, which must be
    /// the current one.
    @discardableResult
    package final func wait(
        on target: AnyObject, _ operation: StaticString, timeout: Duration?,
        slot: UnsafeMutableRawPointer? = nil,
        enqueue: (UnsafeMutablePointer<weave_waiter>) -> Void,
        dequeue: (UnsafeMutablePointer<weave_waiter>) -> Void
    ) throws -> Bool {
        try AnyCoroutine.wait(on: target, operation, timeout: timeout, slot: slot, enqueue: enqueue, dequeue: dequeue)
    }
}
