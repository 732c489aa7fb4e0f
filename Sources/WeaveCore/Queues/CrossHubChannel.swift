import CWeaveContext
import Synchronization

/// A bounded channel between hubs: coroutines on any hubs of a ``HubGroup`` send and
/// receive, and each parks (its coroutine, not its thread) while the channel is full or empty.
///
/// ```swift
/// let results = CrossHubChannel<Int>(capacity: 1024)
/// try group.hub(1).spawn { for n in 0..<1000 { try results.send(n * n) }; results.close() }
/// while let square = try results.receive() { total += square }   // on hub 0
/// ```
///
/// ``Channel`` is the hub-local channel: cheaper, unbuffered if you like, usable with
/// `select`, but confined to one hub. This one is `Sendable`, holds its values in a ring
/// that senders and receivers claim without a lock (so two hubs share only the slots they
/// hand over), and wakes a parked coroutine through its own hub's cross-thread queue, so a
/// coroutine always resumes on its own hub's thread. The waiter lists (and their mutex) are
/// touched only when a coroutine parks or must be woken. Wakes are batched: a
/// parked receiver is woken once however many values arrive before it runs, and drains
/// them all with no further wake; likewise a parked sender for the room a batch of
/// receives makes. Waiters are served first-come first-served per side. Before parking, a
/// side with nothing else to run on its hub spins on the ring (up to some 40 µs on a 37 ns
/// `pause`, and it goes on with a single value or slot after some 10 µs): the other hub
/// usually hands over sooner than a park and a cross-thread wake-up would take. When the
/// other side has made no progress for about a microsecond (it is not running, perhaps
/// waiting for this very core), the spin gives the core up (`sched_yield`) a few times, and
/// parks if that brings no progress either; after one yield that kept it off its core for
/// long (more runnable threads than cores, where each further yield would keep this hub's
/// timers and I/O waiting a time slice more) it yields no more. A receiver with nothing else
/// to run that finds fewer than a batch of values (half the capacity, at most 64) waits up
/// to some 2 µs for the batch rather than read right behind the writer, so that the two
/// cores hand whole cache lines over instead of bouncing each line once a value.
///
/// `close()` ends the stream: values already sent are still received, then ``receive(timeout:)``
/// returns nil; ``send(_:timeout:)`` on a closed channel throws ``QueueError/Code/closed``.
///
/// A coroutine parked here counts as outside work on its hub (another hub may wake it),
/// so it is never reported as deadlocked.
public final class CrossHubChannel<Element: Sendable>: Sendable, CustomStringConvertible {
    /// Shown in errors and deadlock reports.
    public let label: String?
    /// The most values the channel holds before a sender parks.
    public let capacity: Int
    // Inlinable from here down to the slow paths: the caller's module specialises them for
    // its `Element`, or every message pays generic metadata look-ups (most of its cost).
    /// Who may touch which slot when (C, lock-free); owned by the channel, freed at deinit.
    @usableFromInline nonisolated(unsafe) let ring: OpaquePointer
    /// The values, at `weave_xring_slot(position)`; owned by the channel, freed at deinit. A
    /// slot is initialised exactly between a write's claim-and-store and the read that moves
    /// it out, and only the side holding the claim touches it.
    @usableFromInline nonisolated(unsafe) let values: UnsafeMutablePointer<Element>
    /// The parked coroutines of each side; the ring's parked counts mirror their sizes.
    @usableFromInline let waiters: Mutex<Waiters>

    @usableFromInline
    struct Waiters {
        @usableFromInline var receivers = CrossHubWaiters()
        @usableFromInline var senders = CrossHubWaiters()

        @usableFromInline
        init() {}
    }

    /// Pauses a side spins (when its hub has nothing else ready) before it parks: tens of
    /// microseconds at most, about what a park and a cross-thread wake-up cost.
    static var spinRounds: UInt32 { 1024 }
    /// Room a spinning sender waits for, and values a spinning receiver waits for, before it
    /// goes on (fewer after ~10 µs): a batch, so that the two cores hand slot
    /// lines over whole rather than contend for them message by message.
    var spinBatch: UInt64 { weave_xring_batch_for(UInt64(capacity)) }

    /// A channel holding up to `capacity` values (at least 1: a precondition).
    public init(capacity: Int, label: String? = nil) {
        precondition(capacity >= 1, "CrossHubChannel\(quoted(label)) capacity \(capacity) is below 1")
        self.capacity = capacity
        self.label = label
        guard let ring = weave_xring_create(UInt64(capacity)) else {
            fatalError("CrossHubChannel\(quoted(label)): out of memory for \(capacity) slots")
        }
        self.ring = ring
        values = .allocate(capacity: Int(weave_xring_slots_for(UInt64(capacity))))
        waiters = Mutex(Waiters())
    }

    deinit {
        // Values still buffered are released with the channel.
        while true {
            let position = weave_xring_claim_read(ring)
            if position >= WEAVE_XRING_CLOSED { break }
            values.advanced(by: Int(weave_xring_slot(ring, position))).deinitialize(count: 1)
        }
        values.deallocate()
        weave_xring_destroy(ring)
    }

    public var description: String { "CrossHubChannel\(quoted(label))" }

    /// Values buffered now (a snapshot; other hubs may change it at once).
    public var count: Int { min(Int(weave_xring_count(ring)), capacity) }

    /// Coroutines parked on the channel now, senders and receivers (for tests).
    var parkedCount: Int { waiters.withLock { $0.receivers.count + $0.senders.count } }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { weave_xring_is_closed(ring) != 0 }

    // MARK: - Sending

    /// Sends `value`, parking the calling coroutine while the channel is full.
    ///
    /// From any thread while there is room; parking needs a coroutine.
    ///
    /// - Throws: ``QueueError/Code/closed`` if the channel is closed (also while waiting);
    ///   ``TimeoutError`` after `timeout`; `CancellationError` if cancelled while waiting
    ///   (the value is then not sent); ``WeaveError/Code/notInCoroutine`` if it must park
    ///   outside a coroutine.
    @inlinable
    public func send(_ value: Element, timeout: Duration? = nil) throws {
        switch put(value) {
        case .sent: return
        case .closed: throw closedError
        case .full: try sendParking(value, timeout: timeout)
        }
    }

    /// Sends `value` if there is room now; returns false when full.
    ///
    /// - Throws: ``QueueError/Code/closed`` if the channel is closed.
    @inlinable
    public func trySend(_ value: Element) throws -> Bool {
        switch put(value) {
        case .sent: return true
        case .closed: throw closedError
        case .full: return false
        }
    }

    @usableFromInline
    enum SendStep: Sendable {
        case sent
        case closed
        case full
    }

    /// Writes `value` into a free slot and wakes a parked receiver if there is one.
    @inlinable
    func put(_ value: Element) -> SendStep {
        let position = weave_xring_claim_write(ring)
        if position >= WEAVE_XRING_CLOSED { return position == WEAVE_XRING_CLOSED ? .closed : .full }
        values.advanced(by: Int(weave_xring_slot(ring, position))).initialize(to: value)
        if weave_xring_publish_write(ring, position) != 0 { wakeFirstReceiver() }
        return .sent
    }

    @usableFromInline @inline(never)
    func sendParking(_ value: Element, timeout: Duration?) throws {
        // A spin first, before anything is allocated: on an idle hub the room usually comes
        // sooner than a park and a wake-up would take.
        var spin = weave_xring_may_spin() != 0
        let waiter = try CrossHubWaiter.current("CrossHubChannel.send")
        let deadline = timeout.map { Hub.deadline(after: $0) }
        waiter.begin()
        defer { waiter.end() }
        while true {
            if spin, weave_xring_spin_writable(ring, Self.spinRounds, spinBatch) != 0 {
                switch put(value) {
                case .sent: return
                case .closed: throw closedError
                case .full: break
                }
            }
            waiters.withLock { $0.senders.append(waiter, counting: ring, receivers: false) }
            // Looked at after being counted as parked: room made since is seen here, or the
            // receiver that made it sees the count and wakes a sender.
            if weave_xring_writable(ring) == 0 {
                do {
                    try waiter.park(.other("CrossHubChannel send"), deadline: deadline, timeout: timeout)
                } catch {
                    // Woken for room it will not use: the next parked sender gets it.
                    leave(waiter, receiver: false)
                    throw error
                }
            }
            // Off the list before looking again, parked or not (see `unlist`).
            unlist(waiter, receiver: false)
            switch put(value) {
            case .sent: return
            case .closed: throw closedError
            case .full: spin = waiter.mayBusyWait
            }
        }
    }

    // MARK: - Receiving

    /// Receives the next value, parking the calling coroutine while the channel is empty;
    /// nil once the channel is closed and drained.
    ///
    /// From any thread while values are buffered; parking needs a coroutine.
    ///
    /// - Throws: ``TimeoutError`` after `timeout`; `CancellationError` if cancelled while
    ///   waiting; ``WeaveError/Code/notInCoroutine`` if it must park outside a coroutine.
    @inlinable
    public func receive(timeout: Duration? = nil) throws -> Element? {
        weave_xring_prepare_read(ring)
        switch take() {
        case .value(let value): return value
        case .closed: return nil
        case .empty: return try receiveParking(timeout: timeout)
        }
    }

    /// Receives a value if one is buffered now; nil when empty (or closed and drained).
    @inlinable
    public func tryReceive() -> Element? {
        switch take() {
        case .value(let value): return value
        case .closed, .empty: return nil
        }
    }

    /// Moves the oldest value out and wakes a parked sender if there is one.
    @inlinable
    func take() -> Take<Element> {
        let position = weave_xring_claim_read(ring)
        if position >= WEAVE_XRING_CLOSED { return position == WEAVE_XRING_CLOSED ? .closed : .empty }
        let value = values.advanced(by: Int(weave_xring_slot(ring, position))).move()
        if weave_xring_publish_read(ring, position) != 0 { wakeFirstSender() }
        return .value(value)
    }

    @usableFromInline @inline(never)
    func receiveParking(timeout: Duration?) throws -> Element? {
        var spin = weave_xring_may_spin() != 0
        let waiter = try CrossHubWaiter.current("CrossHubChannel.receive")
        let deadline = timeout.map { Hub.deadline(after: $0) }
        waiter.begin()
        defer { waiter.end() }
        while true {
            if spin, weave_xring_spin_readable(ring, Self.spinRounds, spinBatch) != 0 {
                switch take() {
                case .value(let value): return value
                case .closed: return nil
                case .empty: break
                }
            }
            waiters.withLock { $0.receivers.append(waiter, counting: ring, receivers: true) }
            // Looked at after being counted as parked: a value sent since is seen here, or
            // its sender sees the count and wakes a receiver.
            if weave_xring_readable(ring) == 0 {
                do {
                    try waiter.park(.other("CrossHubChannel receive"), deadline: deadline, timeout: timeout)
                } catch {
                    // Woken for a value it will not take: the next parked receiver gets it.
                    leave(waiter, receiver: true)
                    throw error
                }
            }
            // Off the list before looking again, parked or not (see `unlist`).
            unlist(waiter, receiver: true)
            switch take() {
            case .value(let value): return value
            case .closed: return nil
            case .empty: spin = waiter.mayBusyWait
            }
        }
    }

    // MARK: - Waking

    @usableFromInline @inline(never)
    func wakeFirstReceiver() {
        waiters.withLock { $0.receivers.popFirst(counting: ring, receivers: true) }?.wake()
    }

    @usableFromInline @inline(never)
    func wakeFirstSender() {
        waiters.withLock { $0.senders.popFirst(counting: ring, receivers: false) }?.wake()
    }

    /// Takes `waiter` off its list if it is still there: it found what it waited for itself,
    /// or it was woken while still listed. The latter happens when a wake meant for an earlier
    /// listing of the same call arrives late (taken off the list, the waiter found nothing,
    /// listed itself again and parked). Left listed, it would list itself twice, or return
    /// while listed; either way a stale entry would keep the parked count up and take the
    /// next wake, which it drops, while a live waiter stays parked beside a value or room.
    private func unlist(_ waiter: CrossHubWaiter, receiver: Bool) {
        waiters.withLock { waiters in
            if receiver {
                waiters.receivers.remove(waiter, counting: ring, receivers: true)
            } else {
                waiters.senders.remove(waiter, counting: ring, receivers: false)
            }
        }
    }

    /// Takes `waiter`, leaving with an error, off its list; if it had already been woken (and
    /// so taken off), wakes the next waiter there instead when what the wake was for (a value
    /// or room) is still there, so a wake is never lost with the waiter that left.
    private func leave(_ waiter: CrossHubWaiter, receiver: Bool) {
        let next = waiters.withLock { waiters -> CrossHubWaiter? in
            if waiter.isListed {
                if receiver {
                    waiters.receivers.remove(waiter, counting: ring, receivers: true)
                } else {
                    waiters.senders.remove(waiter, counting: ring, receivers: false)
                }
                return nil
            }
            if receiver {
                return weave_xring_readable(ring) != 0 ? waiters.receivers.popFirst(counting: ring, receivers: true) : nil
            }
            return weave_xring_writable(ring) != 0 ? waiters.senders.popFirst(counting: ring, receivers: false) : nil
        }
        next?.wake()
    }

    // MARK: - Closing

    /// Closes the channel: parked senders throw ``QueueError/Code/closed``, parked
    /// receivers drain what is buffered and then get nil. Safe from any thread; closing
    /// twice does nothing.
    public func close() {
        guard weave_xring_close(ring) != 0 else { return }
        let woken = waiters.withLock { waiters -> [CrossHubWaiter] in
            waiters.receivers.removeAll(counting: ring, receivers: true)
                + waiters.senders.removeAll(counting: ring, receivers: false)
        }
        for waiter in woken { waiter.wake() }
    }

    @usableFromInline
    var closedError: QueueError {
        QueueError(.closed, "send on closed \(description)")
    }
}

/// What a receive found.
@usableFromInline
enum Take<Element: Sendable>: Sendable {
    case value(Element)
    case closed
    case empty
}
