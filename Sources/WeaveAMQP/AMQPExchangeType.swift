/// An exchange's routing algorithm: ``direct``, ``fanout``, ``topic``, ``headers``, or a
/// plugin's type by name (`x-delayed-message`).
public struct AMQPExchangeType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// Routes to the queues bound with exactly the message's routing key.
    public static let direct = AMQPExchangeType(rawValue: "direct")
    /// Routes to every bound queue, ignoring the routing key.
    public static let fanout = AMQPExchangeType(rawValue: "fanout")
    /// Routes by pattern (`logs.*.error`, `audit.#`).
    public static let topic = AMQPExchangeType(rawValue: "topic")
    /// Routes by message headers (`x-match`).
    public static let headers = AMQPExchangeType(rawValue: "headers")
}
