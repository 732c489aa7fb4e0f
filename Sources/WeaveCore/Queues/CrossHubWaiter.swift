import CWeaveContext

/// A coroutine parked on a ``CrossHubChannel``: any thread may wake it, and it resumes on
/// its own hub's thread (directly from that thread, else through the hub's cross-thread
/// queue). One per parking call, so that a wake arriving after the call has ended finds
/// `isWaiting` false and does nothing.
@usableFromInline
final class CrossHubWaiter: @unchecked Sendable {
    /// The waiter's hub scheduler: compared, never dereferenced, off that hub's thread.
    private let sched: UnsafeMutableRawPointer
    private let remote: RemoteQueue
    /// Hub thread only; alive while `isWaiting` (the parking call holds it).
    private unowned(unsafe) let coroutine: AnyCoroutine
    /// Hub thread only: inside the parking call.
    private var isWaiting = false
    /// Guarded by the channel's mutex: in one of its waiter lists (not yet woken).
    @usableFromInline var isListed = false

    private init(_ coroutine: AnyCoroutine) {
        self.coroutine = coroutine
        self.sched = UnsafeMutableRawPointer(coroutine.hub.sched)
        self.remote = coroutine.hub.remote
    }

    /// A waiter for the calling coroutine.
    static func current(_ operation: StaticString) throws(WeaveError) -> CrossHubWaiter {
        CrossHubWaiter(try AnyCoroutine.requireCurrent(operation))
    }

    /// Whether the hub has nothing else to run now, so spinning a little before parking
    /// delays no other coroutine.
    var mayBusyWait: Bool {
        weave_sched_has_ready(sched.assumingMemoryBound(to: weave_sched.self)) == 0
    }

    /// Starts the wait: the hub counts it as outside work (another hub may end it).
    func begin() {
        isWaiting = true
        coroutine.hub.beginOutsideWork()
    }

    func end() {
        isWaiting = false
        coroutine.hub.endOutsideWork()
    }

    /// Parks until woken, the deadline passes (``TimeoutError`` naming the whole
    /// `timeout`), or an interruption.
    func park(_ reason: WaitReason, deadline: UInt64?, timeout: Duration?) throws {
        guard let deadline, let timeout else { return try coroutine.park(reason) }
        let now = Hub.now()
        let expired = TimeoutError(operation: reason.description, timeout: timeout)
        guard now < deadline else { throw expired }
        do {
            try coroutine.park(reason, timeout: .nanoseconds(Int64(deadline - now)))
        } catch let error as TimeoutError where error.scope == nil {
            throw expired
        }
    }

    /// Makes the coroutine ready on its own hub's thread, if it still waits. Any thread.
    @usableFromInline
    func wake() {
        if let here = weave_sched_current(), UnsafeMutableRawPointer(here) == sched {
            if isWaiting { coroutine.hub.makeReady(coroutine) }
            return
        }
        // False only once the hub has closed, which it cannot while the coroutine waits.
        remote.send { [self] in
            if isWaiting { coroutine.hub.makeReady(coroutine) }
        }
    }
}

/// The parked waiters of one side of a ``CrossHubChannel``, first come first served;
/// mutated only under the channel's waiter mutex, each change mirrored in the ring's parked
/// count for that side (which lets the other side skip this list while nobody is parked).
@usableFromInline
struct CrossHubWaiters {
    @usableFromInline var list: [CrossHubWaiter] = []

    @usableFromInline
    init() {}

    var count: Int { list.count }

    mutating func append(_ waiter: CrossHubWaiter, counting ring: OpaquePointer, receivers: Bool) {
        // Listed twice, one entry would outlive the wait and swallow a wake meant for another.
        assert(!waiter.isListed, "a CrossHubChannel waiter listed twice")
        waiter.isListed = true
        list.append(waiter)
        adjust(ring, receivers: receivers, by: 1)
    }

    /// Takes the longest-waiting one (now no longer listed: its wake is pending).
    mutating func popFirst(counting ring: OpaquePointer, receivers: Bool) -> CrossHubWaiter? {
        if list.isEmpty { return nil }
        let waiter = list.removeFirst()
        waiter.isListed = false
        adjust(ring, receivers: receivers, by: -1)
        return waiter
    }

    mutating func remove(_ waiter: CrossHubWaiter, counting ring: OpaquePointer, receivers: Bool) {
        guard waiter.isListed, let index = list.firstIndex(where: { $0 === waiter }) else { return }
        list.remove(at: index)
        waiter.isListed = false
        adjust(ring, receivers: receivers, by: -1)
    }

    mutating func removeAll(counting ring: OpaquePointer, receivers: Bool) -> [CrossHubWaiter] {
        let all = list
        list = []
        for waiter in all { waiter.isListed = false }
        adjust(ring, receivers: receivers, by: -Int64(all.count))
        return all
    }

    private func adjust(_ ring: OpaquePointer, receivers: Bool, by delta: Int64) {
        if delta == 0 { return }
        if receivers {
            weave_xring_add_parked_receivers(ring, delta)
        } else {
            weave_xring_add_parked_senders(ring, delta)
        }
    }
}
