/// A method frame from the broker, decoded: only what a client can receive.
enum AMQPServerMethod {
    case connectionStart(versionMajor: UInt8, versionMinor: UInt8, serverProperties: AMQPFieldTable, mechanisms: String)
    case connectionSecure
    case connectionTune(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16)
    case connectionOpenOk
    case connectionClose(AMQPCloseReason)
    case connectionCloseOk
    case connectionBlocked(reason: String)
    case connectionUnblocked
    case channelOpenOk
    case channelFlow(active: Bool)
    case channelFlowOk
    case channelClose(AMQPCloseReason)
    case channelCloseOk
    case exchangeDeclareOk, exchangeDeleteOk, exchangeBindOk, exchangeUnbindOk
    case queueDeclareOk(AMQPQueueState)
    case queueBindOk, queueUnbindOk
    case queuePurgeOk(messageCount: UInt32)
    case queueDeleteOk(messageCount: UInt32)
    case basicQosOk
    case basicConsumeOk(consumerTag: String)
    case basicCancel(consumerTag: String)
    case basicCancelOk(consumerTag: String)
    case basicReturn(replyCode: UInt16, replyText: String, exchange: String, routingKey: String)
    case basicDeliver(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
    case basicGetOk(deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, messageCount: UInt32)
    case basicGetEmpty
    case basicAck(deliveryTag: UInt64, multiple: Bool)
    case basicNack(deliveryTag: UInt64, multiple: Bool)
    case basicRecoverOk
    case confirmSelectOk

    /// Whether a content header and body frames follow this method.
    var carriesContent: Bool {
        switch self {
        case .basicDeliver, .basicGetOk, .basicReturn: return true
        default: return false
        }
    }

    /// Decodes a method frame's payload.
    static func decode(_ payload: UnsafeRawBufferPointer) throws(AMQPFrameError) -> AMQPServerMethod {
        var decoder = AMQPFrameDecoder(payload)
        let id = AMQPMethodID(try decoder.readShort(), try decoder.readShort())
        switch id {
        case .connectionStart:
            let major = try decoder.readOctet()
            let minor = try decoder.readOctet()
            let properties = try decoder.readTable()
            let mechanisms = try decoder.readLongString()
            _ = try decoder.readLongString()
            return .connectionStart(versionMajor: major, versionMinor: minor, serverProperties: properties, mechanisms: mechanisms)
        case .connectionSecure: return .connectionSecure
        case .connectionTune:
            return .connectionTune(channelMax: try decoder.readShort(), frameMax: try decoder.readLong(), heartbeat: try decoder.readShort())
        case .connectionOpenOk: return .connectionOpenOk
        case .connectionClose: return .connectionClose(try AMQPCloseReason(&decoder))
        case .connectionCloseOk: return .connectionCloseOk
        case .connectionBlocked: return .connectionBlocked(reason: decoder.remaining > 0 ? try decoder.readShortString() : "")
        case .connectionUnblocked: return .connectionUnblocked
        case .channelOpenOk: return .channelOpenOk
        case .channelFlow: return .channelFlow(active: try decoder.readBit())
        case .channelFlowOk: return .channelFlowOk
        case .channelClose: return .channelClose(try AMQPCloseReason(&decoder))
        case .channelCloseOk: return .channelCloseOk
        case .exchangeDeclareOk: return .exchangeDeclareOk
        case .exchangeDeleteOk: return .exchangeDeleteOk
        case .exchangeBindOk: return .exchangeBindOk
        case .exchangeUnbindOk: return .exchangeUnbindOk
        case .queueDeclareOk:
            let name = try decoder.readShortString()
            let messages = try decoder.readLong()
            let consumers = try decoder.readLong()
            return .queueDeclareOk(AMQPQueueState(name: name, messageCount: Int(messages), consumerCount: Int(consumers)))
        case .queueBindOk: return .queueBindOk
        case .queueUnbindOk: return .queueUnbindOk
        case .queuePurgeOk: return .queuePurgeOk(messageCount: try decoder.readLong())
        case .queueDeleteOk: return .queueDeleteOk(messageCount: try decoder.readLong())
        case .basicQosOk: return .basicQosOk
        case .basicConsumeOk: return .basicConsumeOk(consumerTag: try decoder.readShortString())
        case .basicCancel: return .basicCancel(consumerTag: try decoder.readShortString())
        case .basicCancelOk: return .basicCancelOk(consumerTag: try decoder.readShortString())
        case .basicReturn:
            return .basicReturn(replyCode: try decoder.readShort(), replyText: try decoder.readShortString(),
                                exchange: try decoder.readShortString(), routingKey: try decoder.readShortString())
        case .basicDeliver:
            let tag = try decoder.readShortString()
            let deliveryTag = try decoder.readLongLong()
            let redelivered = try decoder.readBit()
            return .basicDeliver(consumerTag: tag, deliveryTag: deliveryTag, redelivered: redelivered,
                                 exchange: try decoder.readShortString(), routingKey: try decoder.readShortString())
        case .basicGetOk:
            let deliveryTag = try decoder.readLongLong()
            let redelivered = try decoder.readBit()
            return .basicGetOk(deliveryTag: deliveryTag, redelivered: redelivered, exchange: try decoder.readShortString(),
                               routingKey: try decoder.readShortString(), messageCount: try decoder.readLong())
        case .basicGetEmpty: return .basicGetEmpty
        case .basicAck:
            let tag = try decoder.readLongLong()
            return .basicAck(deliveryTag: tag, multiple: try decoder.readBit())
        case .basicNack:
            let tag = try decoder.readLongLong()
            return .basicNack(deliveryTag: tag, multiple: try decoder.readBit())
        case .basicRecoverOk: return .basicRecoverOk
        case .confirmSelectOk: return .confirmSelectOk
        default:
            throw AMQPFrameError(.unknownMethod, "method \(id) is not one a broker sends")
        }
    }
}

/// Why the broker closed a channel or the connection.
struct AMQPCloseReason {
    let replyCode: UInt16
    let replyText: String
    let classID: UInt16
    let methodID: UInt16

    init(replyCode: UInt16, replyText: String, classID: UInt16 = 0, methodID: UInt16 = 0) {
        self.replyCode = replyCode
        self.replyText = replyText
        self.classID = classID
        self.methodID = methodID
    }

    init(_ decoder: inout AMQPFrameDecoder) throws(AMQPFrameError) {
        replyCode = try decoder.readShort()
        replyText = try decoder.readShortString()
        classID = try decoder.readShort()
        methodID = try decoder.readShort()
    }
}

/// A queue's name and counts, as `queue.declare` reports them.
public struct AMQPQueueState: Sendable, Hashable {
    /// The queue's name (the broker's choice for a queue declared with an empty name).
    public let name: String
    /// Messages ready for delivery (not counting those delivered and unacknowledged).
    public let messageCount: Int
    /// Consumers on the queue.
    public let consumerCount: Int
}
