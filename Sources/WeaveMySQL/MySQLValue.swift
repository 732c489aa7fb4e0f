/// A value bound to a `?` placeholder of a statement.
///
/// Literals convert directly: `try connection.query("SELECT ?, ?, ?", 1, "text", nil)`.
public enum MySQLValue: Sendable, Hashable {
    /// SQL `NULL`.
    case null
    /// A signed integer (`BIGINT`).
    case int(Int64)
    /// An unsigned integer (`BIGINT UNSIGNED`).
    case uint(UInt64)
    /// A double-precision number.
    case double(Double)
    /// Text, sent as UTF-8.
    case string(String)
    /// Bytes, sent as they are (for `BLOB`/`BINARY` columns).
    case bytes([UInt8])

    /// `value`, or ``null`` when it is nil.
    public static func optional(_ value: MySQLValue?) -> MySQLValue { value ?? .null }
}

extension MySQLValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension MySQLValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension MySQLValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension MySQLValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension MySQLValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .int(value ? 1 : 0) }
}

extension MySQLValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "NULL"
        case .int(let value): "\(value)"
        case .uint(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "'\(value)'"
        case .bytes(let value): "<\(value.count) bytes>"
        }
    }
}
