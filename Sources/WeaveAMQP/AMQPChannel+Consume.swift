import WeaveCore

extension AMQPChannel {
    /// Limits the unacknowledged deliveries the broker sends (`basic.qos`): with a prefetch
    /// count of 1, a consumer gets its next message only after acknowledging the last,
    /// which spreads work fairly over several consumers.
    ///
    /// Blocks the calling coroutine until the broker's reply.
    ///
    /// - Parameters:
    ///   - prefetchCount: The most unacknowledged deliveries; 0 means no limit.
    ///   - global: RabbitMQ: share the limit across the channel's consumers rather than
    ///     apply it to each consumer.
    /// - Throws: ``AMQPError`` when the channel or connection has ended; `TimeoutError`,
    ///   `CancellationError` (which close the channel).
    public func qos(prefetchCount: Int, prefetchSize: Int = 0, global: Bool = false, timeout: Duration? = nil) throws {
        precondition((0...65535).contains(prefetchCount), "prefetchCount is 0 to 65535")
        _ = try call(.basicQos, timeout: timeout, "basic.qos") {
            $0.writeLong(UInt32(prefetchSize))
            $0.writeShort(UInt16(prefetchCount))
            $0.writeBits(global)
        }
        prefetch = (prefetchCount, prefetchSize, global)
    }

    /// Starts a consumer on `queue` (`basic.consume`); read its deliveries from a coroutine
    /// with ``AMQPConsumer/next(timeout:)`` or `for delivery in consumer`.
    ///
    /// Blocks the calling coroutine until the broker's reply.
    ///
    /// - Parameters:
    ///   - tag: The consumer's tag, unique on the channel; one is made up when nil.
    ///   - noAck: Have the broker take every message as acknowledged on delivery
    ///     (at-most-once); otherwise acknowledge with ``AMQPDelivery/ack(multiple:)``.
    ///   - exclusive: Refuse other consumers on the queue while this one runs.
    ///   - arguments: Broker extensions (`x-priority`).
    /// - Throws: ``AMQPError/Code/channelClosed`` with 404 for a missing queue, 403 when
    ///   another consumer is exclusive; the channel's failure; `TimeoutError`, `CancellationError`.
    public func consume(queue: String, tag: String? = nil, noAck: Bool = false, exclusive: Bool = false,
                        arguments: AMQPFieldTable = [:], timeout: Duration? = nil) throws -> AMQPConsumer {
        if let failure { throw failure }
        let consumerTag: String
        if let tag {
            consumerTag = tag
        } else {
            nextConsumerTag += 1
            consumerTag = "weave-\(id)-\(nextConsumerTag)"
        }
        precondition(consumers[consumerTag] == nil, "consumer tag '\(consumerTag)' is in use on \(self)")
        // Registered before the request: deliveries can follow consume-ok in the same read.
        let consumer = AMQPConsumer(tag: consumerTag, queue: queue, channel: self, noAck: noAck, exclusive: exclusive, arguments: arguments)
        consumers[consumerTag] = consumer
        do {
            try startConsuming(consumer, timeout: timeout)
        } catch {
            consumers[consumerTag] = nil
            throw error
        }
        return consumer
    }

    func startConsuming(_ consumer: AMQPConsumer, timeout: Duration?) throws {
        _ = try call(.basicConsume, timeout: timeout, "basic.consume '\(consumer.queue)'") {
            $0.writeShort(0)
            $0.writeShortString(consumer.queue)
            $0.writeShortString(consumer.tag)
            $0.writeBits(false, consumer.noAck, consumer.exclusive, false)
            $0.writeTable(consumer.arguments)
        }
    }

    /// Stops a consumer (`basic.cancel`); what was delivered before stays readable.
    func cancel(_ consumer: AMQPConsumer, timeout: Duration?) throws {
        guard failure == nil, consumers[consumer.tag] === consumer else { return }
        _ = try call(.basicCancel, timeout: timeout, "basic.cancel '\(consumer.tag)'") {
            $0.writeShortString(consumer.tag)
            $0.writeBits(false)
        }
        consumers[consumer.tag] = nil
        consumer.end(nil)
    }

    /// Takes one message from `queue` if it has one (`basic.get`): polling, where a consumer
    /// would be pushed messages.
    ///
    /// Blocks the calling coroutine until the broker's reply.
    ///
    /// - Returns: The message (``AMQPDelivery/messageCount`` says how many are left), or nil
    ///   when the queue is empty.
    /// - Throws: ``AMQPError/Code/channelClosed`` with 404 for a missing queue; the channel's
    ///   failure; `TimeoutError`, `CancellationError`.
    public func get(queue: String, noAck: Bool = false, timeout: Duration? = nil) throws -> AMQPDelivery? {
        let reply = try call(.basicGet, timeout: timeout, "basic.get '\(queue)'") {
            $0.writeShort(0)
            $0.writeShortString(queue)
            $0.writeBits(noAck)
        }
        switch reply.method {
        case .basicGetEmpty:
            return nil
        case .basicGetOk(let deliveryTag, let redelivered, let exchange, let routingKey, let messageCount):
            guard let content = reply.content else { throw unexpected(reply, "basic.get") }
            return AMQPDelivery(body: content.body, properties: content.properties, deliveryTag: deliveryTag,
                                redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                                consumerTag: nil, messageCount: Int(messageCount), channel: self, epoch: epoch)
        default:
            throw unexpected(reply, "basic.get")
        }
    }

    /// Acknowledges delivery `deliveryTag` (`basic.ack`), or with `multiple` every delivery
    /// on this channel up to it. Does not block: the frame is queued for the writer.
    ///
    /// Acks made before the writer runs travel as one frame (an ack of every delivery up to
    /// the last, sent only when each earlier one is settled), so acknowledging each message
    /// costs the broker about one ack per batch. Acks out of order go out as they are, and
    /// batching resumes once the deliveries before them are settled.
    ///
    /// - Throws: The channel's or connection's failure. An unknown tag makes the broker
    ///   close the channel (406), which the next call sees.
    public func ack(deliveryTag: UInt64, multiple: Bool = false) throws {
        if let failure { throw failure }
        // Tags of a lost transport mean nothing on the new one (the broker requeued those).
        guard connection.outage == nil else { return }
        settle(deliveryTag, multiple: multiple)
        // While the writer has not taken the last ack queued on this channel, an ack of a
        // later tag turns it into "every tag up to this one". That is exact when every tag
        // up to this one is settled: the broker has processed (or will first process, the ack
        // being the last frame queued) the frames that settled the others, so "multiple" only
        // covers the tags acked here. The broker then handles one ack for a run of deliveries
        // (a consumer acking each message was bound by that).
        if settledThrough >= deliveryTag, let last = connection.lastAckFrame, last.channel == ObjectIdentifier(self),
           last.swaps == connection.outputSwaps, last.offset + Self.ackFrameSize == connection.output.buffer.count,
           last.tag < deliveryTag {
            connection.output.rewriteAck(at: last.offset, deliveryTag: deliveryTag)
            connection.lastAckFrame = (last.channel, deliveryTag, last.offset, last.swaps)
            return
        }
        let offset = connection.output.buffer.count
        connection.output.method(channel: id, .basicAck) {
            $0.writeLongLong(deliveryTag)
            $0.writeBits(multiple)
        }
        connection.lastAckFrame = (ObjectIdentifier(self), deliveryTag, offset, connection.outputSwaps)
        connection.wakeWriter()
    }

    /// Records that the application settled `tag` (or, with `multiple`, every tag up to it),
    /// moving ``settledThrough`` past every tag settled before it out of order.
    func settle(_ tag: UInt64, multiple: Bool) {
        if tag == settledThrough &+ 1 || (multiple && tag > settledThrough) {
            settledThrough = tag
            guard !settledAhead.isEmpty else { return }
            if multiple { settledAhead = settledAhead.filter { $0 > tag } }
            while settledAhead.remove(settledThrough &+ 1) != nil { settledThrough &+= 1 }
        } else if tag > settledThrough &+ 1 {
            // Forgetting only makes later acks go out one by one, never covers an unsettled tag.
            if settledAhead.count >= Self.settledAheadLimit { settledAhead = [] }
            settledAhead.insert(tag)
        }
    }

    /// The most out-of-order settled tags remembered (see ``settledAhead``).
    static let settledAheadLimit = 4096

    /// The bytes of a `basic.ack` frame: header 7, class and method 4, tag 8, bits 1, end 1.
    static let ackFrameSize = 21

    /// Refuses delivery `deliveryTag` (`basic.nack`), or with `multiple` every delivery up to
    /// it: with `requeue` the broker delivers it again (with ``AMQPDelivery/redelivered``
    /// set), else it drops or dead-letters it. Does not block.
    ///
    /// - Throws: The channel's or connection's failure.
    public func nack(deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws {
        if let failure { throw failure }
        guard connection.outage == nil else { return }
        settle(deliveryTag, multiple: multiple)
        connection.output.method(channel: id, .basicNack) {
            $0.writeLongLong(deliveryTag)
            $0.writeBits(multiple, requeue)
        }
        connection.wakeWriter()
    }

    /// Refuses one delivery (`basic.reject`); see ``nack(deliveryTag:multiple:requeue:)``.
    /// Does not block.
    ///
    /// - Throws: The channel's or connection's failure.
    public func reject(deliveryTag: UInt64, requeue: Bool = true) throws {
        if let failure { throw failure }
        guard connection.outage == nil else { return }
        settle(deliveryTag, multiple: false)
        connection.output.method(channel: id, .basicReject) {
            $0.writeLongLong(deliveryTag)
            $0.writeBits(requeue)
        }
        connection.wakeWriter()
    }

    /// Has the broker redeliver every unacknowledged delivery on this channel (`basic.recover`).
    ///
    /// Blocks the calling coroutine until the broker's reply.
    public func recover(requeue: Bool = true, timeout: Duration? = nil) throws {
        _ = try call(.basicRecover, timeout: timeout, "basic.recover") { $0.writeBits(requeue) }
    }
}
