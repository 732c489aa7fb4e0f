/// A value in an AMQP field table: queue and exchange arguments (`x-message-ttl`,
/// `x-dead-letter-exchange`, `x-queue-type`), message headers, the broker's properties.
///
/// The type octets are RabbitMQ's (which every 0-9-1 broker in use follows): `s` is a
/// signed 16-bit integer, `l` a signed 64-bit one, `x` a byte array.
public enum AMQPFieldValue: Hashable, Sendable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    /// A decimal: `value` × 10^-`scale`.
    case decimal(scale: UInt8, value: UInt32)
    case string(String)
    /// A long string that is not text.
    case bytes([UInt8])
    case array([AMQPFieldValue])
    /// Seconds since the Unix epoch.
    case timestamp(UInt64)
    case table(AMQPFieldTable)
    case void
}

/// An AMQP field table: names to values.
public typealias AMQPFieldTable = [String: AMQPFieldValue]

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals become `long` (`l`, 64-bit), which RabbitMQ accepts for every
    /// numeric argument (`x-message-ttl`, `x-max-length`).
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension AMQPFieldValue {
    /// The value as an integer, whatever its integer width.
    public var integerValue: Int64? {
        switch self {
        case .int8(let v): return Int64(v)
        case .uint8(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int64(let v): return v
        case .timestamp(let v): return Int64(bitPattern: v)
        default: return nil
        }
    }

    /// The value as text, for `.string`.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
