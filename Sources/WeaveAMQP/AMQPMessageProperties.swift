/// The basic properties that travel with a message: its content type, persistence, the RPC
/// pair (``correlationID``, ``replyTo``), a per-message TTL (``expiration``), headers.
///
/// Every property is optional; a nil one is not sent.
public struct AMQPMessageProperties: Sendable, Hashable {
    /// Whether the broker keeps a message on disk.
    public enum DeliveryMode: UInt8, Sendable {
        /// Kept in memory only (lost when the broker restarts).
        case transient = 1
        /// Written to disk in a durable queue (survives a broker restart).
        case persistent = 2
    }

    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPFieldTable?
    public var deliveryMode: DeliveryMode?
    /// 0 to 9 (queues declared with `x-max-priority`).
    public var priority: UInt8?
    /// Ties a reply to its request (RPC).
    public var correlationID: String?
    /// The queue a reply should be published to (RPC).
    public var replyTo: String?
    /// The message's time to live in milliseconds, as text (`"60000"`): the broker drops
    /// (or dead-letters) it once expired.
    public var expiration: String?
    public var messageID: String?
    /// Seconds since the Unix epoch.
    public var timestamp: UInt64?
    public var type: String?
    /// Checked by RabbitMQ against the connection's user when set.
    public var userID: String?
    public var appID: String?

    /// Properties with the given values; nil ones are not sent.
    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPFieldTable? = nil,
        deliveryMode: DeliveryMode? = nil, priority: UInt8? = nil, correlationID: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageID: String? = nil, timestamp: UInt64? = nil,
        type: String? = nil, userID: String? = nil, appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    /// Persistent delivery and nothing else: what a work queue's messages need.
    public static let persistent = AMQPMessageProperties(deliveryMode: .persistent)

    // The property flags, highest bit first (section 4.2.6.1 and the basic class).
    private static let contentTypeBit: UInt16 = 1 << 15, contentEncodingBit: UInt16 = 1 << 14
    private static let headersBit: UInt16 = 1 << 13, deliveryModeBit: UInt16 = 1 << 12
    private static let priorityBit: UInt16 = 1 << 11, correlationIDBit: UInt16 = 1 << 10
    private static let replyToBit: UInt16 = 1 << 9, expirationBit: UInt16 = 1 << 8
    private static let messageIDBit: UInt16 = 1 << 7, timestampBit: UInt16 = 1 << 6
    private static let typeBit: UInt16 = 1 << 5, userIDBit: UInt16 = 1 << 4
    private static let appIDBit: UInt16 = 1 << 3, clusterIDBit: UInt16 = 1 << 2

    func encode(into encoder: inout AMQPFrameEncoder) {
        var flags: UInt16 = 0
        if contentType != nil { flags |= Self.contentTypeBit }
        if contentEncoding != nil { flags |= Self.contentEncodingBit }
        if headers != nil { flags |= Self.headersBit }
        if deliveryMode != nil { flags |= Self.deliveryModeBit }
        if priority != nil { flags |= Self.priorityBit }
        if correlationID != nil { flags |= Self.correlationIDBit }
        if replyTo != nil { flags |= Self.replyToBit }
        if expiration != nil { flags |= Self.expirationBit }
        if messageID != nil { flags |= Self.messageIDBit }
        if timestamp != nil { flags |= Self.timestampBit }
        if type != nil { flags |= Self.typeBit }
        if userID != nil { flags |= Self.userIDBit }
        if appID != nil { flags |= Self.appIDBit }
        encoder.writeShort(flags)
        if let contentType { encoder.writeShortString(contentType) }
        if let contentEncoding { encoder.writeShortString(contentEncoding) }
        if let headers { encoder.writeTable(headers) }
        if let deliveryMode { encoder.writeOctet(deliveryMode.rawValue) }
        if let priority { encoder.writeOctet(priority) }
        if let correlationID { encoder.writeShortString(correlationID) }
        if let replyTo { encoder.writeShortString(replyTo) }
        if let expiration { encoder.writeShortString(expiration) }
        if let messageID { encoder.writeShortString(messageID) }
        if let timestamp { encoder.writeLongLong(timestamp) }
        if let type { encoder.writeShortString(type) }
        if let userID { encoder.writeShortString(userID) }
        if let appID { encoder.writeShortString(appID) }
    }

    init(decoding decoder: inout AMQPFrameDecoder) throws(AMQPFrameError) {
        self.init()
        var flags = try decoder.readShort()
        // Bit 0 set means another flags word follows (never used by 0-9-1's basic class).
        var more = flags
        while more & 1 != 0 { more = try decoder.readShort() }
        flags &= ~1
        if flags & Self.contentTypeBit != 0 { contentType = try decoder.readShortString() }
        if flags & Self.contentEncodingBit != 0 { contentEncoding = try decoder.readShortString() }
        if flags & Self.headersBit != 0 { headers = try decoder.readTable() }
        if flags & Self.deliveryModeBit != 0 { deliveryMode = DeliveryMode(rawValue: try decoder.readOctet()) }
        if flags & Self.priorityBit != 0 { priority = try decoder.readOctet() }
        if flags & Self.correlationIDBit != 0 { correlationID = try decoder.readShortString() }
        if flags & Self.replyToBit != 0 { replyTo = try decoder.readShortString() }
        if flags & Self.expirationBit != 0 { expiration = try decoder.readShortString() }
        if flags & Self.messageIDBit != 0 { messageID = try decoder.readShortString() }
        if flags & Self.timestampBit != 0 { timestamp = try decoder.readLongLong() }
        if flags & Self.typeBit != 0 { type = try decoder.readShortString() }
        if flags & Self.userIDBit != 0 { userID = try decoder.readShortString() }
        if flags & Self.appIDBit != 0 { appID = try decoder.readShortString() }
        if flags & Self.clusterIDBit != 0 { _ = try decoder.readShortString() }
    }
}
