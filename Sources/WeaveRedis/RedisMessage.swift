/// A message published to a channel, as a ``RedisSubscription`` receives it.
public struct RedisMessage: Sendable, Hashable {
    /// The channel it was published to.
    public let channel: String
    /// The pattern that matched the channel, for a `PSUBSCRIBE` subscription; nil otherwise.
    public let pattern: String?
    /// The published bytes.
    public let payload: [UInt8]

    /// Makes a message (for tests and fakes; subscriptions make their own).
    public init(channel: String, pattern: String? = nil, payload: [UInt8]) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// The payload as UTF-8 text (invalid bytes replaced).
    public var string: String { String(decoding: payload, as: UTF8.self) }
}
