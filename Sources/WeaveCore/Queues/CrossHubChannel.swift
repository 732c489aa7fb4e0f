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
/// guarded by a mutex, and wakes a parked coroutine through its own hub's cross-thread
/// queue, so a coroutine always resumes on its own hub's thread. Wakes are batched: a
/// parked receiver is woken once however many values arrive before it runs, and drains
/// them all with no further wake; likewise a parked sender for the room a batch of
/// receives makes. Waiters are served first-come first-served per side.
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
    @usableFromInline let state: Mutex<State>

    @usableFromInline
    struct State {
        @usableFromInline var ring: [Element?]
        @usableFromInline var head = 0
        @usableFromInline var count = 0
        @usableFromInline var isClosed = false
        @usableFromInline var receivers = CrossHubWaiters()
        @usableFromInline var senders = CrossHubWaiters()

        @usableFromInline
        init(ring: [Element?]) {
            self.ring = ring
        }

        @inlinable
        mutating func push(_ value: Element) {
            ring[(head + count) % ring.count] = value
            count += 1
        }

        @inlinable
        mutating func pop() -> Element {
            let value = ring[head].take().unsafelyUnwrapped
            head = head + 1 == ring.count ? 0 : head + 1
            count -= 1
            return value
        }
    }

    /// A channel holding up to `capacity` values (at least 1: a precondition).
    public init(capacity: Int, label: String? = nil) {
        precondition(capacity >= 1, "CrossHubChannel\(quoted(label)) capacity \(capacity) is below 1")
        self.capacity = capacity
        self.label = label
        state = Mutex(State(ring: Array(repeating: nil, count: capacity)))
    }

    public var description: String { "CrossHubChannel\(quoted(label))" }

    /// Values buffered now (a snapshot; other hubs may change it at once).
    public var count: Int { state.withLock { $0.count } }

    /// Coroutines parked on the channel now, senders and receivers (for tests).
    var parkedCount: Int { state.withLock { $0.receivers.count + $0.senders.count } }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { state.withLock { $0.isClosed } }

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
        let outcome = state.withLock { state -> SendStep in
            if state.isClosed { return .closed }
            guard state.count < capacity else { return .full }
            state.push(value)
            return .sent(state.receivers.popFirst())
        }
        switch outcome {
        case .sent(let receiver): receiver?.wake()
        case .closed: throw closedError
        case .full: try sendParking(value, timeout: timeout)
        }
    }

    /// Sends `value` if there is room now; returns false when full.
    ///
    /// - Throws: ``QueueError/Code/closed`` if the channel is closed.
    @inlinable
    public func trySend(_ value: Element) throws -> Bool {
        let outcome = state.withLock { state -> SendStep in
            if state.isClosed { return .closed }
            guard state.count < capacity else { return .full }
            state.push(value)
            return .sent(state.receivers.popFirst())
        }
        switch outcome {
        case .sent(let receiver):
            receiver?.wake()
            return true
        case .closed: throw closedError
        case .full: return false
        }
    }

    @usableFromInline
    enum SendStep: Sendable {
        case sent(CrossHubWaiter?)
        case closed
        case full
    }

    @usableFromInline @inline(never)
    func sendParking(_ value: Element, timeout: Duration?) throws {
        let waiter = try CrossHubWaiter.current("CrossHubChannel.send")
        let deadline = timeout.map { Hub.deadline(after: $0) }
        waiter.begin()
        defer { waiter.end() }
        while true {
            let outcome = state.withLock { state -> SendStep in
                if state.isClosed {
                    state.senders.remove(waiter)
                    return .closed
                }
                if state.count < capacity {
                    state.senders.remove(waiter)
                    state.push(value)
                    return .sent(state.receivers.popFirst())
                }
                if !waiter.isListed { state.senders.append(waiter) }
                return .full
            }
            switch outcome {
            case .sent(let receiver):
                receiver?.wake()
                return
            case .closed:
                throw closedError
            case .full:
                do {
                    try waiter.park(.other("CrossHubChannel send"), deadline: deadline, timeout: timeout)
                } catch {
                    // Woken for room it will not use: the next parked sender gets it.
                    leave(waiter, from: \.senders, passingOnIf: { $0.count < capacity })
                    throw error
                }
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
        switch state.withLock({ state in state.take(capacity: capacity) }) {
        case .value(let value, let sender):
            sender?.wake()
            return value
        case .closed:
            return nil
        case .empty:
            return try receiveParking(timeout: timeout)
        }
    }

    /// Receives a value if one is buffered now; nil when empty (or closed and drained).
    @inlinable
    public func tryReceive() -> Element? {
        switch state.withLock({ state in state.take(capacity: capacity) }) {
        case .value(let value, let sender):
            sender?.wake()
            return value
        case .closed, .empty:
            return nil
        }
    }

    @usableFromInline @inline(never)
    func receiveParking(timeout: Duration?) throws -> Element? {
        let waiter = try CrossHubWaiter.current("CrossHubChannel.receive")
        let deadline = timeout.map { Hub.deadline(after: $0) }
        waiter.begin()
        defer { waiter.end() }
        while true {
            let outcome = state.withLock { state -> Take in
                let outcome = state.take(capacity: capacity)
                switch outcome {
                case .value, .closed: state.receivers.remove(waiter)
                case .empty: if !waiter.isListed { state.receivers.append(waiter) }
                }
                return outcome
            }
            switch outcome {
            case .value(let value, let sender):
                sender?.wake()
                return value
            case .closed:
                return nil
            case .empty:
                do {
                    try waiter.park(.other("CrossHubChannel receive"), deadline: deadline, timeout: timeout)
                } catch {
                    // Woken for a value it will not take: the next parked receiver gets it.
                    leave(waiter, from: \.receivers, passingOnIf: { $0.count > 0 })
                    throw error
                }
            }
        }
    }

    /// Takes `waiter`, leaving with an error, off `list`; if it had already been woken (and
    /// so taken off), wakes the next waiter there instead when `stillThere` (what the wake
    /// was for, room or a value) holds, so a wake is never lost with the waiter that left.
    private func leave(
        _ waiter: CrossHubWaiter, from list: any WritableKeyPath<State, CrossHubWaiters> & Sendable,
        passingOnIf stillThere: @Sendable (State) -> Bool
    ) {
        let next = state.withLock { state -> CrossHubWaiter? in
            if waiter.isListed {
                state[keyPath: list].remove(waiter)
                return nil
            }
            return stillThere(state) ? state[keyPath: list].popFirst() : nil
        }
        next?.wake()
    }

    // MARK: - Closing

    /// Closes the channel: parked senders throw ``QueueError/Code/closed``, parked
    /// receivers drain what is buffered and then get nil. Safe from any thread; closing
    /// twice does nothing.
    public func close() {
        let waiters = state.withLock { state -> [CrossHubWaiter] in
            if state.isClosed { return [] }
            state.isClosed = true
            return state.receivers.removeAll() + state.senders.removeAll()
        }
        for waiter in waiters { waiter.wake() }
    }

    @usableFromInline
    var closedError: QueueError {
        QueueError(.closed, "send on closed \(description)")
    }
}

/// What a receive found.
@usableFromInline
enum Take<Element: Sendable>: Sendable {
    /// A value, and the parked sender to wake for the room it made.
    case value(Element, CrossHubWaiter?)
    case closed
    case empty
}

extension CrossHubChannel.State {
    @inlinable
    mutating func take(capacity: Int) -> Take<Element> {
        if count > 0 {
            let value = pop()
            // One wake per batch: a sender already woken is no longer listed.
            return .value(value, senders.popFirst())
        }
        return isClosed ? .closed : .empty
    }
}
