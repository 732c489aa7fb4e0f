import WeaveCore

/// A consumer on a queue: the deliveries the broker pushes, read by a coroutine.
///
/// ```swift
/// let consumer = try channel.consume(queue: "tasks")
/// for delivery in consumer {
///     handle(delivery.body)
///     try delivery.ack()
/// }
/// ```
///
/// Deliveries wait in the consumer, in order, until read; the channel's prefetch
/// (``AMQPChannel/qos(prefetchCount:prefetchSize:global:timeout:)``) bounds how many. The
/// consumer ends when it is cancelled (``cancel(timeout:)``), its channel closes, or the
/// broker cancels it; what was delivered before stays readable.
public final class AMQPConsumer: Sequence, WaitTarget, CustomStringConvertible {
    /// The consumer's tag on its channel.
    public let tag: String
    /// The queue it consumes from (a server-named queue's new name after recovery).
    public internal(set) var queue: String
    /// The channel it was started on.
    public let channel: AMQPChannel
    private var buffer = FIFO<AMQPDelivery>()
    private var waiters: [AnyCoroutine] = []
    /// Whether the consumer has ended, and how: nil for a cancel of this side's.
    private var ended = false
    private var endError: AMQPError?

    /// What the consumer was started with, to start it again on recovery.
    let noAck: Bool
    let exclusive: Bool
    let arguments: AMQPFieldTable

    init(tag: String, queue: String, channel: AMQPChannel, noAck: Bool, exclusive: Bool, arguments: AMQPFieldTable) {
        self.tag = tag
        self.queue = queue
        self.channel = channel
        self.noAck = noAck
        self.exclusive = exclusive
        self.arguments = arguments
    }

    /// Deliveries received and not read yet.
    public var bufferedCount: Int { buffer.count }

    /// Whether the consumer has ended (no more deliveries will come).
    public var isEnded: Bool { ended }

    public var description: String { "consumer '\(tag)' on queue '\(queue)'" }

    package var waitDescription: String { "\(self) (\(buffer.count) buffered)" }

    /// The next delivery, waiting for one if none is buffered.
    ///
    /// Blocks the calling coroutine until a delivery arrives, the consumer ends, or
    /// `timeout` passes.
    ///
    /// - Returns: The delivery, or nil once the consumer was cancelled on this side (or its
    ///   channel closed by this side) and everything delivered was read.
    /// - Throws: ``AMQPError`` when the broker cancelled the consumer
    ///   (``AMQPError/Code/consumerCancelled``), closed the channel or the connection ended
    ///   (after what was buffered has been read); `TimeoutError`; `CancellationError`.
    public func next(timeout: Duration? = nil) throws -> AMQPDelivery? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let delivery = buffer.popFirst() { return delivery }
            if ended {
                if let endError, endError.code != .closedByClient { throw endError }
                return nil
            }
            let coroutine = try AnyCoroutine.requireCurrent("AMQPConsumer.next")
            waiters.append(coroutine)
            do {
                try coroutine.park(.primitive(self, "next delivery"), timeout: deadline.map { $0 - .now })
            } catch {
                waiters.removeAll { $0 === coroutine }
                throw error
            }
        }
    }

    /// Stops the consumer (`basic.cancel`): no more deliveries come; what was delivered stays
    /// readable, then ``next(timeout:)`` returns nil. Does nothing once ended.
    ///
    /// Blocks the calling coroutine until the broker confirms.
    ///
    /// - Throws: The channel's failure; `TimeoutError`, `CancellationError`.
    public func cancel(timeout: Duration? = nil) throws {
        guard !ended else { return }
        try channel.cancel(self, timeout: timeout)
    }

    /// Reads deliveries until the consumer ends; see ``next(timeout:)``.
    ///
    /// `next()` cannot throw, so the loop ends on a failure too: check ``failure`` after
    /// it, or loop on `try consumer.next()` to see the error. An interruption of the
    /// coroutine (cancellation, an enclosing `withTimeout`) ends the loop and is thrown by
    /// its next blocking call.
    public func makeIterator() -> Iterator { Iterator(consumer: self) }

    /// Why the consumer ended, when it was not cancelled by this side.
    public var failure: AMQPError? {
        guard let endError, endError.code != .closedByClient else { return nil }
        return endError
    }

    /// Iterates over deliveries; see ``AMQPConsumer/makeIterator()``.
    public struct Iterator: IteratorProtocol {
        let consumer: AMQPConsumer

        public mutating func next() -> AMQPDelivery? {
            do {
                return try consumer.next()
            } catch is AMQPError {
                return nil
            } catch {
                AnyCoroutine.deferInterruption(error)
                return nil
            }
        }
    }

    // MARK: - From the channel

    func deliver(_ delivery: AMQPDelivery) {
        buffer.append(delivery)
        if !waiters.isEmpty { channel.hub.makeReady(waiters.removeFirst()) }
    }

    func end(_ error: AMQPError?) {
        guard !ended else { return }
        ended = true
        endError = error
        let waiting = waiters
        waiters = []
        for waiter in waiting { channel.hub.makeReady(waiter) }
    }
}
