import FoundationEssentials

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
    /// An instant: bound as a `DATETIME` in UTC (to the microsecond); what `DATE`,
    /// `DATETIME` and `TIMESTAMP` columns read as.
    case date(Date)
    /// A `TIME` value (an interval up to ±838:59:59, to the microsecond).
    case time(Duration)

    /// `value`, or ``null`` when it is nil.
    public static func optional(_ value: MySQLValue?) -> MySQLValue { value ?? .null }

    /// An integer of any width: ``int(_:)``, or ``uint(_:)`` for an unsigned value beyond
    /// `Int64.max`. A value beyond `UInt64` is a programmer error (a precondition failure).
    public init<Value: BinaryInteger>(_ value: Value) {
        if let signed = Int64(exactly: value) {
            self = .int(signed)
        } else {
            self = .uint(UInt64(value))
        }
    }

    /// ``double(_:)``.
    public init(_ value: Double) { self = .double(value) }

    /// ``string(_:)``.
    public init(_ value: String) { self = .string(value) }

    /// ``bytes(_:)``.
    public init(_ value: [UInt8]) { self = .bytes(value) }

    /// ``date(_:)``.
    public init(_ value: Date) { self = .date(value) }

    /// ``time(_:)``.
    public init(_ value: Duration) { self = .time(value) }

    /// 1 or 0, as MySQL stores `BOOLEAN`.
    public init(_ value: Bool) { self = .int(value ? 1 : 0) }
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
        case .date(let value): MySQLTime.text(of: value)
        case .time(let value): MySQLTime.text(of: value)
        }
    }
}
