/// A Go-style channel between coroutines: a rendezvous by default (each `send` waits for a
/// `receive`), or buffered with a `capacity`.
///
/// ```swift
/// let jobs = Channel<Int>(capacity: 16)
/// try spawn { for job in jobs { handle(job) } }   // ends when the channel closes
/// for job in 0..<100 { try jobs.send(job) }
/// jobs.close()
/// ```
///
/// `close()` ends the stream: buffered values are still received, then `receive` returns
/// nil; `send` on a closed channel throws ``QueueError/Code/closed``. ``select(_:timeout:default:)``
/// waits on several channels at once. Waiters are served first-come first-served.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Channel<Element>: WaitTarget, CustomStringConvertible, Sequence {
    public let label: String?
    /// Values buffered without a receiver; 0 for a rendezvous channel.
    public let capacity: Int
    @usableFromInline let buffer = FIFOStorage<Element>()
    @exclusivity(unchecked) var receivers = WaitQueue()
    @exclusivity(unchecked) var senders = WaitQueue()
    @exclusivity(unchecked) public internal(set) var isClosed = false

    ///
    /// A negative `capacity` is a programmer error (a precondition failure).
    public init(capacity: Int = 0, label: String? = nil) {
        precondition(capacity >= 0, "Channel\(quoted(label)) capacity \(capacity) is negative")
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
        // Inlinable so the caller specialises it: handing the value to a parked receiver
        // (the common case of a rendezvous) or buffering it is then a few typed stores.
        // Only waiting, which needs no knowledge of `Element`, is out of line.
        if isClosed { throw closedError() }
        if let slot = _wakeReceiver() {
            slot.assumingMemoryBound(to: Element.self).initialize(to: value)
            return
        }
        if buffer.stored < capacity {
            buffer.push(value)
            return
        }
        var value = value
        let closed = try withUnsafeMutablePointer(to: &value) {
            try _waitForReceiver(from: UnsafeMutableRawPointer($0), timeout: timeout)
        }
        if closed { throw closedError() }
    }

    /// Receives the next value, waiting for one; nil once the channel is closed and drained.
    ///
    /// Throws ``TimeoutError`` after `timeout` and `CancellationError` if cancelled.
    @inlinable
    public func receive(timeout: Duration? = nil) throws -> Element? {
        if buffer.stored > 0 {
            let value = buffer.pop()
            // A sender waiting on a full buffer refills the room just made.
            if let slot = _wakeSender() { buffer.push(slot.assumingMemoryBound(to: Element.self).pointee) }
            return value
        }
        if let slot = _wakeSender() { return slot.assumingMemoryBound(to: Element.self).pointee }
        if isClosed { return nil }
        return try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            return try _waitForSender(into: UnsafeMutableRawPointer(slot), timeout: timeout) ? slot.move() : nil
        }
    }

    /// Wakes the first receiver still waiting and returns the slot to initialise with the
    /// value (the receiver runs only once the caller blocks or yields); nil if none waits.
    @usableFromInline
    func _wakeReceiver() -> UnsafeMutableRawPointer? {
        receivers.isEmpty ? nil : receivers.signalFirstSlot()
    }

    /// Wakes the first sender still waiting and returns the slot holding its value (the
    /// caller copies it out before blocking); nil if none waits.
    @usableFromInline
    func _wakeSender() -> UnsafeMutableRawPointer? {
        senders.isEmpty ? nil : senders.signalFirstSlot()
    }

    /// Parks until a receiver copies `*value` out; true if the channel closed instead.
    @usableFromInline
    func _waitForReceiver(from value: UnsafeMutableRawPointer, timeout: Duration?) throws -> Bool {
        // The value waits in the caller's frame; a receiver copies it out and signals us.
        try AnyCoroutine.wait(on: self, "send", timeout: timeout, slot: value,
                              enqueue: { senders.append($0) }, dequeue: { senders.remove($0) })
    }

    /// Parks until a sender initialises `*slot`; false if the channel closed instead.
    @usableFromInline
    func _waitForSender(into slot: UnsafeMutableRawPointer, timeout: Duration?) throws -> Bool {
        // A sender initialises the slot and signals us; a close signals with `sawClose`.
        let closed = try AnyCoroutine.wait(on: self, "receive", timeout: timeout, slot: slot,
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
    /// `next()` cannot throw, so an interruption ends the loop early but is never lost: if
    /// the coroutine is cancelled, or an enclosing `withTimeout` scope expires, the loop
    /// ends and the interruption stays with the coroutine. Its next blocking call throws
    /// it, and the enclosing ``withTimeout(_:operation:fileID:line:_:)`` throws it when its body
    /// returns, so `try withTimeout(…) { for x in channel { … } }` throws ``TimeoutError``
    /// (or `CancellationError`) instead of returning partial work. Where the loop itself
    /// must see the error, write `while let x = try channel.receive() { … }`.
    ///
    /// Outside a coroutine, `next()` cannot wait: iteration ends once nothing can be
    /// received without waiting (use ``receive(timeout:)`` there to get the error).
    public func makeIterator() -> Iterator { Iterator(channel: self) }

    /// Receives values until the channel closes or the coroutine is interrupted; see
    /// ``Channel/makeIterator()``.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let channel: Channel

        init(channel: Channel) { self.channel = channel }

        @inlinable
        public mutating func next() -> Element? {
            do {
                return try channel.receive()
            } catch {
                // Kept for the coroutine's next blocking call and its scope's end (a
                // cancellation is sticky and needs no keeping).
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
    package func receiveWithoutWaiting(into slot: UnsafeMutablePointer<Element>) -> Bool {
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

    package var waitDescription: String {
        "Channel\(quoted(label)) (\(isClosed ? "closed" : "\(buffer.count) of \(capacity) buffered"))"
    }

    public var description: String { waitDescription }
}
