/// A Go-style channel between coroutines: a rendezvous by default (each `send` waits for a
/// `receive`), or buffered with a `capacity`.
///
/// ```swift
/// let jobs = try Channel<Int>(capacity: 16)
/// try spawn { for job in jobs { handle(job) } }   // ends when the channel closes
/// for job in 0..<100 { try jobs.send(job) }
/// jobs.close()
/// ```
///
/// `close()` ends the stream: buffered values are still received, then `receive` returns
/// nil; `send` on a closed channel throws ``QueueError/Code/closed``. ``select(_:timeout:default:)``
/// waits on several channels at once. Waiters are served first-come first-served.
public final class Channel<Element>: WaitTarget, CustomStringConvertible, Sequence {
    public let label: String?
    /// Values buffered without a receiver; 0 for a rendezvous channel.
    public let capacity: Int
    private let buffer = FIFOStorage<Element>()
    @exclusivity(unchecked) var receivers = WaitQueue()
    @exclusivity(unchecked) var senders = WaitQueue()
    @exclusivity(unchecked) public private(set) var isClosed = false

    public init(capacity: Int = 0, label: String? = nil) throws {
        guard capacity >= 0 else {
            throw WeaveError(.invalidArgument, "Channel\(quoted(label)) capacity \(capacity) is negative")
        }
        self.capacity = capacity
        self.label = label
    }

    /// Values buffered now.
    public var count: Int { buffer.count }

    /// Sends `value`, waiting until a receiver takes it (rendezvous) or there is room.
    ///
    /// Throws ``QueueError/Code/closed`` if the channel is closed (also while waiting),
    /// ``TimeoutError`` after `timeout`, `CancellationError` if cancelled (the value is then not sent).
    @inlinable
    public func send(_ value: Element, timeout: Duration? = nil) throws {
        // Inlinable so the caller specialises it: the shared core below works on a typed
        // pointer and never needs metadata for `Element?` (a lookup per call otherwise).
        var value = value
        try withUnsafeMutablePointer(to: &value) { try _send(from: $0, timeout: timeout) }
    }

    /// Receives the next value, waiting for one; nil once the channel is closed and drained.
    ///
    /// Throws ``TimeoutError`` after `timeout` and `CancellationError` if cancelled.
    @inlinable
    public func receive(timeout: Duration? = nil) throws -> Element? {
        try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            return try _receive(into: slot, timeout: timeout) ? slot.move() : nil
        }
    }

    /// Sends a copy of `*value`; see ``send(_:timeout:)``.
    @usableFromInline
    func _send(from value: UnsafeMutablePointer<Element>, timeout: Duration?) throws {
        if try sendWithoutWaiting(from: value) { return }
        // The value waits in the caller's frame; a receiver copies it out and signals us.
        let closed = try AnyCoroutine.wait(on: self, "send", timeout: timeout, slot: UnsafeMutableRawPointer(value),
                                           enqueue: { senders.append($0) }, dequeue: { senders.remove($0) })
        if closed { throw closedError() }
    }

    /// Initialises `*slot` with the next value and returns true, or returns false at the end.
    @usableFromInline
    func _receive(into slot: UnsafeMutablePointer<Element>, timeout: Duration?) throws -> Bool {
        if receiveWithoutWaiting(into: slot) { return true }
        if isClosed { return false }
        // A sender initialises the slot and signals us; a close signals with `sawClose`.
        let closed = try AnyCoroutine.wait(on: self, "receive", timeout: timeout, slot: UnsafeMutableRawPointer(slot),
                                           enqueue: { receivers.append($0) }, dequeue: { receivers.remove($0) })
        return !closed
    }

    /// Closes the channel: waiting receivers get nil (once the buffer is drained), waiting
    /// and later senders get ``QueueError/Code/closed``. Closing twice does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        senders.closeAll()
        receivers.closeAll()
    }

    /// Iterates over received values until the channel closes.
    ///
    /// `next()` cannot throw: if the coroutine is cancelled or its timeout scope expires,
    /// iteration ends early, and the coroutine's next blocking call throws that error.
    public func makeIterator() -> Iterator { Iterator(channel: self) }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let channel: Channel

        init(channel: Channel) { self.channel = channel }

        @inlinable
        public mutating func next() -> Element? {
            do {
                return try channel.receive()
            } catch {
                AnyCoroutine.deferInterruption(error)
                return nil
            }
        }
    }

    // MARK: - Internals (also used by select)

    /// Whether `receive` would return without waiting (a value, or the end).
    var canReceiveNow: Bool { buffer.count > 0 || senders.hasWaiting() || isClosed }

    /// Whether `send` would return (or throw) without waiting.
    var canSendNow: Bool { isClosed || receivers.hasWaiting() || buffer.count < capacity }

    /// Hands a copy of `*value` to a waiting receiver or buffers it; false if it would have to wait.
    func sendWithoutWaiting(from value: UnsafeMutablePointer<Element>) throws -> Bool {
        if isClosed { throw closedError() }
        if let slot = receivers.signalFirstSlot() {
            slot.assumingMemoryBound(to: Element.self).initialize(to: value.pointee)
            return true
        }
        guard buffer.count < capacity else { return false }
        buffer.push(value.pointee)
        return true
    }

    /// Initialises `*slot` with a buffered value (refilling from a waiting sender) or a
    /// waiting sender's value; false if there is none.
    func receiveWithoutWaiting(into slot: UnsafeMutablePointer<Element>) -> Bool {
        if buffer.count > 0 {
            slot.initialize(to: buffer.pop())
            if let slot = senders.signalFirstSlot() {
                buffer.push(slot.assumingMemoryBound(to: Element.self).pointee)
            }
            return true
        }
        if let senderSlot = senders.signalFirstSlot() {
            slot.initialize(to: senderSlot.assumingMemoryBound(to: Element.self).pointee)
            return true
        }
        return false
    }

    @usableFromInline
    func closedError() -> QueueError {
        QueueError(.closed, "send on closed Channel\(quoted(label))")
    }

    var waitDescription: String {
        "Channel\(quoted(label)) (\(isClosed ? "closed" : "\(buffer.count) of \(capacity) buffered"))"
    }

    public var description: String { waitDescription }
}
