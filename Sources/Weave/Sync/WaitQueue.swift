import CWeaveContext

/// A FIFO of parked coroutines: the heart of every blocking primitive.
///
/// Waking is first-come first-served, and skips waiters whose coroutine was already woken
/// for another reason (cancelled, timed out, another select case fired), so a signal is
/// never swallowed by a waiter that is leaving: it passes to the next one. A waiter that
/// leaves without being signalled removes itself (`defer`) once it runs again.
struct WaitQueue {
    private(set) unowned(unsafe) var head: Waiter?
    private unowned(unsafe) var tail: Waiter?
    private(set) var count = 0

    var isEmpty: Bool { head == nil }

    mutating func append(_ waiter: Waiter) {
        waiter.isQueued = true
        waiter.isSignaled = false
        waiter.sawClose = false
        waiter.next = nil
        waiter.previous = tail
        if let tail { tail.next = waiter } else { head = waiter }
        tail = waiter
        count += 1
    }

    mutating func remove(_ waiter: Waiter) {
        guard waiter.isQueued else { return }
        if let previous = waiter.previous { previous.next = waiter.next } else { head = waiter.next }
        if let next = waiter.next { next.previous = waiter.previous } else { tail = waiter.previous }
        waiter.next = nil
        waiter.previous = nil
        waiter.isQueued = false
        count -= 1
    }

    /// Removes and returns the first waiter still waiting; waiters found leaving are
    /// dropped from the queue on the way.
    mutating func popWaiting() -> Waiter? {
        while let first = head {
            remove(first)
            if first.isWaiting { return first }
        }
        return nil
    }

    /// The first waiter still waiting, left in place.
    mutating func firstWaiting() -> Waiter? {
        while let first = head {
            if first.isWaiting { return first }
            remove(first)
        }
        return nil
    }

    /// Wakes the first waiter still waiting, marking it signalled. Returns it, or nil.
    @discardableResult
    mutating func signalFirst() -> Waiter? {
        guard let waiter = popWaiting() else { return nil }
        wake(waiter)
        return waiter
    }

    /// Wakes the first waiter still waiting and returns its value slot (nil if none waits).
    /// Returns no object, so the hand-off paths of queues and channels do no reference counting.
    @inline(__always)
    mutating func signalFirstSlot() -> UnsafeMutableRawPointer? {
        guard let waiter = popWaiting() else { return nil }
        wake(waiter)
        return waiter.slot
    }

    /// Wakes every waiter still waiting. Returns how many.
    @discardableResult
    mutating func signalAll() -> Int {
        var woken = 0
        while let waiter = popWaiting() {
            wake(waiter)
            woken += 1
        }
        return woken
    }

    /// Wakes every waiter still waiting with `sawClose` set: the primitive closed under them.
    mutating func closeAll() {
        while let waiter = popWaiting() {
            waiter.sawClose = true
            wake(waiter)
        }
    }

    private func wake(_ waiter: Waiter) {
        waiter.isSignaled = true
        if let group = waiter.group {
            group.isOpen = false
            group.firedCase = waiter.caseIndex
        }
        weave_fiber_wake(weave_sched_current(), waiter.fiber)
    }
}

/// A primitive a coroutine can be parked on, described for deadlock reports and dumps.
protocol WaitTarget: AnyObject {
    /// Such as `Lock 'db' (held by 'writer')` or `Queue 'jobs' (3 of 10 items)`.
    var waitDescription: String { get }
}

extension AnyCoroutine {
    /// Parks in `queue`'s wait until signalled; on cancellation or timeout leaves the queue
    /// and throws. The queue lives in `target`, whose description the deadlock report uses.
    ///
    /// The queue is passed by pointer-free access through `modify`: callers hand in a
    /// closure that appends/removes on their stored queue, so no access spans the park.
    final func wait(
        on target: any WaitTarget, _ operation: StaticString, timeout: Duration?,
        enqueue: (Waiter) -> Void, dequeue: (Waiter) -> Void
    ) throws {
        let waiter = self.waiter
        enqueue(waiter)
        defer { if waiter.isQueued { dequeue(waiter) } }
        try park(.primitive(target, operation), timeout: timeout)
    }
}
