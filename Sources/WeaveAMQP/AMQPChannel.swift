import WeaveCore

/// A channel on an ``AMQPConnection``: the unit AMQP declares, publishes and consumes on.
/// Its calls block the calling coroutine only.
///
/// Synchronous methods (declares, binds, `basic.qos`, `basic.get`…) wait for the broker's
/// reply; several coroutines may call them on one channel at once (the replies come in
/// order). Publishing, acknowledging and rejecting send without a reply, except that in
/// confirm mode (``confirmSelect(timeout:)``) ``publish(_:exchange:routingKey:properties:mandatory:waitForConfirm:timeout:)-([UInt8],_,_,_,_,_,_)``
/// waits for the broker's `basic.ack`.
///
/// **Failures.** When the broker closes the channel (`channel.close`: a redeclaration with
/// other arguments, an unknown queue…), every waiting and later call throws ``AMQPError``
/// with ``AMQPError/Code/channelClosed`` and the broker's reply code; the connection and
/// its other channels go on: open a new channel. A synchronous call that times out or is
/// cancelled also closes the channel, since its reply would otherwise answer the next call.
public final class AMQPChannel: WaitTarget, CustomStringConvertible {
    /// The channel number on the connection.
    public let id: UInt16
    /// The connection the channel belongs to.
    public let connection: AMQPConnection
    /// Why the channel ended; nil while open.
    private(set) var failure: AMQPError?
    /// Synchronous calls waiting for their replies, oldest first.
    private var replies = FIFO<PendingReply>()
    /// A method with content whose header and body frames are being collected.
    private var contentMethod: AMQPServerMethod?
    private var contentProperties: AMQPMessageProperties?
    private var contentBody: [UInt8] = []
    private var contentSize = 0
    var consumers: [String: AMQPConsumer] = [:]
    /// Counts the transports the channel has been open on (recovery reopens it): a
    /// delivery from an earlier one can no longer be acknowledged.
    var epoch = 0
    /// Every delivery tag up to this one has been settled by the application (acked, nacked
    /// or rejected) on the current transport: see ``ack(deliveryTag:multiple:)``.
    var settledThrough: UInt64 = 0
    /// Tags above `settledThrough + 1` settled out of order: once the gap below them is
    /// settled, `settledThrough` moves past them and acks coalesce again. Bounded by
    /// ``settledAheadLimit`` (tags that are never settled, such as those of a `noAck`
    /// consumer on the same channel, would otherwise keep it growing).
    var settledAhead: Set<UInt64> = []
    /// The last `basic.qos`, applied again on recovery.
    var prefetch: (count: Int, size: Int, global: Bool)?
    /// Confirm-mode messages still unconfirmed when the connection was lost.
    var lostConfirms = 0
    var nextConsumerTag = 0

    // Publisher confirms.
    /// Whether ``confirmSelect(timeout:)`` put the channel in confirm mode.
    public internal(set) var isConfirmMode = false
    /// The sequence number the next publish gets in confirm mode (the first is 1).
    public internal(set) var nextPublishSequenceNumber: UInt64 = 1
    var unconfirmed: [UInt64: PendingConfirm] = [:]
    var lowestUnconfirmed: UInt64 = 1
    var nacksSinceWait = 0
    var returnsSinceWait = 0
    var drainWaiters: [AnyCoroutine] = []
    /// A `basic.return` seen for the message whose confirm comes next.
    var pendingReturn: AMQPError?

    init(id: UInt16, connection: AMQPConnection) {
        self.id = id
        self.connection = connection
    }

    /// Whether the channel has ended (closed by either side, or its connection ended).
    public var isClosed: Bool { failure != nil }

    /// Messages published in confirm mode that the broker has not confirmed yet.
    public var unconfirmedCount: Int { unconfirmed.count }

    public var description: String { "channel \(id) of \(connection)" }

    package var waitDescription: String { "\(self)" }

    var hub: Hub { connection.hub }

    // MARK: - Synchronous calls

    /// A reply: the method, and the message for `basic.get-ok`.
    struct Reply {
        let method: AMQPServerMethod
        let content: (properties: AMQPMessageProperties, body: [UInt8])?
    }

    struct PendingReply {
        /// Owned by the waiting call; filled before the call returns (by the reply or by failing the channel).
        let slot: UnsafeMutablePointer<Result<Reply, AMQPError>?>
        let waiter: AnyCoroutine
    }

    /// Sends a synchronous method and waits for its reply.
    func call(_ method: AMQPMethodID, timeout: Duration?, _ what: @autoclosure () -> String,
              _ encode: (inout AMQPFrameEncoder) -> Void) throws -> Reply {
        if let failure { throw failure }
        let coroutine = try AnyCoroutine.requireCurrent("AMQPChannel")
        if connection.outage != nil {
            try connection.waitForRecovery(timeout: timeout ?? connection.configuration.operationTimeout)
            if let failure { throw failure }
        }
        connection.output.method(channel: id, method, encode)
        connection.wakeWriter()
        var outcome: Result<Reply, AMQPError>?
        let deadline = (timeout ?? connection.configuration.operationTimeout).map { ContinuousClock.now + $0 }
        try withUnsafeMutablePointer(to: &outcome) { slot in
            replies.append(PendingReply(slot: slot, waiter: coroutine))
            while slot.pointee == nil {
                do {
                    try coroutine.park(.primitive(self, "reply"), timeout: deadline.map { $0 - .now })
                } catch {
                    if slot.pointee == nil {
                        abandon(AMQPError(.closedByClient, "\(self) was closed: \(what()) was interrupted", underlying: error))
                    }
                    throw error
                }
            }
        }
        switch outcome.unsafelyUnwrapped {
        case .success(let reply): return reply
        case .failure(let error): throw error
        }
    }

    /// Opens the channel on the broker (`channel.open`).
    func open(timeout: Duration?) throws {
        do {
            _ = try call(.channelOpen, timeout: timeout, "channel.open") { $0.writeShortString("") }
        } catch {
            connection.removeChannel(self)
            throw error
        }
    }

    // MARK: - Closing

    /// Closes the channel: sends `channel.close` and waits for the broker's `close-ok`.
    /// Consumers on it end; unacknowledged deliveries go back to their queues. Closing twice,
    /// or a channel the broker already closed, does nothing.
    ///
    /// Blocks the calling coroutine until the broker confirms (at most `timeout`, or
    /// ``AMQPConfiguration/operationTimeout``).
    ///
    /// - Throws: `TimeoutError`, `CancellationError` (the channel is closed on this side
    ///   either way).
    public func close(timeout: Duration? = nil) throws {
        guard failure == nil else { return }
        do {
            _ = try call(.channelClose, timeout: timeout, "channel.close") {
                $0.writeShort(200)
                $0.writeShortString("OK")
                $0.writeShort(0)
                $0.writeShort(0)
            }
        } catch is AMQPError {
            // Closed by the broker or with the connection meanwhile: closed all the same.
        }
        fail(AMQPError(.closedByClient, "\(self) was closed"))
        connection.removeChannel(self)
    }

    /// Ends the channel on this side after an interrupted call: tells the broker and keeps
    /// the number taken until its `close-ok` arrives.
    private func abandon(_ error: AMQPError) {
        guard failure == nil else { return }
        if connection.failure == nil {
            connection.output.method(channel: id, .channelClose) {
                $0.writeShort(200)
                $0.writeShortString("abandoned")
                $0.writeShort(0)
                $0.writeShort(0)
            }
            connection.wakeWriter()
        }
        fail(error)
    }

    /// Ends the channel with `error` (once): every waiting call fails with it, consumers end.
    func fail(_ error: AMQPError) {
        guard failure == nil else { return }
        failure = error
        while let entry = replies.popFirst() {
            entry.slot.pointee = .failure(error)
            hub.makeReady(entry.waiter)
        }
        let pending = unconfirmed
        unconfirmed = [:]
        for (_, entry) in pending where entry.slot != nil {
            entry.slot!.pointee = .failed(error)
            if let waiter = entry.waiter { hub.makeReady(waiter) }
        }
        wakeDrainWaiters()
        let open = consumers.values
        consumers = [:]
        for consumer in open { consumer.end(error) }
    }

    // MARK: - Recovery

    /// The connection's transport was lost and recovery begins: calls in flight fail with
    /// `error`; the channel and its consumers stay, for ``reopen()``.
    func interrupt(_ error: AMQPError) {
        epoch += 1
        settledThrough = 0  // the next transport numbers its deliveries from 1
        settledAhead = []
        while let entry = replies.popFirst() {
            entry.slot.pointee = .failure(error)
            hub.makeReady(entry.waiter)
        }
        lostConfirms += unconfirmed.count
        let pending = unconfirmed
        unconfirmed = [:]
        for (_, entry) in pending where entry.slot != nil {
            entry.slot!.pointee = .failed(error)
            if let waiter = entry.waiter { hub.makeReady(waiter) }
        }
        nextPublishSequenceNumber = 1
        lowestUnconfirmed = 1
        pendingReturn = nil
        wakeDrainWaiters()
        contentMethod = nil
        contentProperties = nil
        contentBody = []
    }

    /// Opens the channel again on the new transport, with its prefetch and confirm mode.
    func reopen() throws {
        _ = try call(.channelOpen, timeout: nil, "channel.open (recovery)") { $0.writeShortString("") }
        if let prefetch { try qos(prefetchCount: prefetch.count, prefetchSize: prefetch.size, global: prefetch.global) }
        if isConfirmMode { _ = try call(.confirmSelect, timeout: nil, "confirm.select (recovery)") { $0.writeBits(false) } }
    }

    /// A server-named queue came back under a new name.
    func renameQueue(_ old: String, to new: String) {
        for consumer in consumers.values where consumer.queue == old { consumer.queue = new }
    }

    /// Starts the consumers again under their tags.
    func restartConsumers() throws {
        for consumer in consumers.values.sorted(by: { $0.tag < $1.tag }) { try startConsuming(consumer, timeout: nil) }
    }

    // MARK: - Frames from the reader

    /// Takes one frame for this channel from the connection's reader. Never blocks.
    func handle(_ frame: AMQPFrame) throws {
        switch frame.type {
        case AMQPFrameType.method:
            let method = try AMQPServerMethod.decode(frame.payload)
            guard contentMethod == nil else {
                throw AMQPFrameError(.unexpectedFrame, "a method on \(self) while a message's content was expected")
            }
            if method.carriesContent {
                contentMethod = method
                contentProperties = nil
                return
            }
            try dispatch(method, content: nil)
        case AMQPFrameType.header:
            guard contentMethod != nil, contentProperties == nil else {
                throw AMQPFrameError(.unexpectedFrame, "a content header on \(self) without its method")
            }
            var decoder = AMQPFrameDecoder(frame.payload)
            _ = try decoder.readShort()
            _ = try decoder.readShort()
            let size = try decoder.readLongLong()
            contentProperties = try AMQPMessageProperties(decoding: &decoder)
            contentSize = Int(size)
            contentBody = []
            contentBody.reserveCapacity(contentSize)
            if contentSize == 0 { try completeContent() }
        case AMQPFrameType.body:
            guard contentMethod != nil, contentProperties != nil else {
                throw AMQPFrameError(.unexpectedFrame, "a content body on \(self) without its header")
            }
            contentBody.append(contentsOf: frame.payload)
            guard contentBody.count <= contentSize else {
                throw AMQPFrameError(.unexpectedFrame, "a message body on \(self) longer than its header said (\(contentSize) bytes)")
            }
            if contentBody.count == contentSize { try completeContent() }
        default:
            throw AMQPFrameError(.unexpectedFrame, "a frame of type \(frame.type) on \(self)")
        }
    }

    private func completeContent() throws {
        let method = contentMethod!
        let content = (properties: contentProperties!, body: contentBody)
        contentMethod = nil
        contentProperties = nil
        contentBody = []
        try dispatch(method, content: content)
    }

    private func dispatch(_ method: AMQPServerMethod, content: (properties: AMQPMessageProperties, body: [UInt8])?) throws {
        switch method {
        case .channelClose(let reason):
            connection.output.method(channel: id, .channelCloseOk)
            connection.wakeWriter()
            fail(AMQPError(.channelClosed, "the broker closed \(self)", replyCode: reason.replyCode, replyText: reason.replyText,
                           classID: reason.classID, methodID: reason.methodID))
            connection.removeChannel(self)
            return
        case .channelCloseOk where failure != nil:
            // The reply to an abandoning close; the number is free now.
            connection.removeChannel(self)
            return
        case .channelFlow(let active):
            connection.output.method(channel: id, .channelFlowOk) { $0.writeBits(active) }
            connection.wakeWriter()
            return
        default:
            break
        }
        // After an abandoning close, everything but its close-ok is for a channel already gone.
        guard failure == nil else { return }
        switch method {
        case .basicDeliver(let tag, let deliveryTag, let redelivered, let exchange, let routingKey):
            guard let content, let consumer = consumers[tag] else { return }
            consumer.deliver(AMQPDelivery(
                body: content.body, properties: content.properties, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, consumerTag: tag, messageCount: nil, channel: self, epoch: epoch))
        case .basicReturn(let replyCode, let replyText, let exchange, let routingKey):
            pendingReturn = AMQPError(.returned, "the broker returned a message published to '\(exchange)' with key '\(routingKey)' on \(self)",
                                      replyCode: replyCode, replyText: replyText)
        case .basicAck(let tag, let multiple):
            confirm(tag, multiple: multiple, nack: false)
        case .basicNack(let tag, let multiple):
            confirm(tag, multiple: multiple, nack: true)
        case .basicCancel(let tag):
            if let consumer = consumers.removeValue(forKey: tag) {
                consumer.end(AMQPError(.consumerCancelled, "the broker cancelled consumer '\(tag)' on queue '\(consumer.queue)' (was it deleted?)"))
            }
        default:
            guard let entry = replies.popFirst() else {
                throw AMQPFrameError(.unexpectedFrame, "a reply on \(self) that nothing waits for")
            }
            entry.slot.pointee = .success(Reply(method: method, content: content))
            hub.makeReady(entry.waiter)
        }
    }
}
