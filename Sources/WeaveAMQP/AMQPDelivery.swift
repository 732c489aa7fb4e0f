/// A message the broker delivered to a consumer or handed out by `basic.get`.
///
/// Unless consumed with `noAck`, acknowledge it (``ack(multiple:)``) once it is handled, or
/// refuse it (``nack(multiple:requeue:)``, ``reject(requeue:)``); the broker redelivers what
/// a closed channel left unacknowledged.
public struct AMQPDelivery {
    /// The message's bytes.
    public let body: [UInt8]
    /// The properties it was published with.
    public let properties: AMQPMessageProperties
    /// Identifies the delivery on its channel, for acknowledging.
    public let deliveryTag: UInt64
    /// Whether the broker delivered this message before (and it was not acknowledged).
    public let redelivered: Bool
    /// The exchange it was published to (`""` for the default exchange).
    public let exchange: String
    /// The routing key it was published with.
    public let routingKey: String
    /// The consumer it was delivered to; nil for `basic.get`.
    public let consumerTag: String?
    /// For `basic.get`: the messages left in the queue.
    public let messageCount: Int?
    /// The channel it came on (acknowledgements go there).
    public let channel: AMQPChannel
    /// The channel's transport when it arrived: after a recovery its tag means nothing.
    let epoch: Int

    init(body: [UInt8], properties: AMQPMessageProperties, deliveryTag: UInt64, redelivered: Bool, exchange: String,
         routingKey: String, consumerTag: String?, messageCount: Int?, channel: AMQPChannel, epoch: Int) {
        self.body = body
        self.properties = properties
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.messageCount = messageCount
        self.channel = channel
        self.epoch = epoch
    }

    /// Whether the delivery can still be acknowledged: it came on the channel's current
    /// transport (not one lost before a recovery).
    public var isCurrent: Bool { epoch == channel.epoch && !channel.connection.isRecovering }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// Acknowledges this delivery (with `multiple`, every earlier one on the channel too).
    /// Does not block. Throws the channel's failure.
    public func ack(multiple: Bool = false) throws {
        guard epoch == channel.epoch else { return }
        try channel.ack(deliveryTag: deliveryTag, multiple: multiple)
    }

    /// Refuses this delivery: requeued with `requeue`, else dropped or dead-lettered.
    /// Does not block. Throws the channel's failure.
    public func nack(multiple: Bool = false, requeue: Bool = true) throws {
        guard epoch == channel.epoch else { return }
        try channel.nack(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Refuses this delivery alone; see ``nack(multiple:requeue:)``.
    public func reject(requeue: Bool = true) throws {
        guard epoch == channel.epoch else { return }
        try channel.reject(deliveryTag: deliveryTag, requeue: requeue)
    }
}
