/// One reply from a Redis server, in RESP2 or RESP3.
///
/// RESP2 replies use ``simpleString(_:)``, ``error(_:)``, ``integer(_:)``, ``bulkString(_:)``,
/// ``array(_:)`` and ``null``; RESP3 (after `HELLO 3`) adds the others. A server error at the
/// top level of a reply is thrown as ``RedisError`` with ``RedisError/Code/server``; inside an
/// aggregate (an `EXEC` result, a pipeline's results) it stays an ``error(_:)`` value.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short status text.
    case simpleString(String)
    /// `-ERR ...` (or RESP3's blob error): the server's error message, prefix included.
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$5\r\nhello`: binary-safe bytes.
    case bulkString([UInt8])
    /// RESP2's `$-1`/`*-1`, RESP3's `_`.
    case null
    /// `*N`: an ordered list of values.
    case array([RESPValue])
    /// RESP3 `,3.14`.
    case double(Double)
    /// RESP3 `#t`/`#f`.
    case boolean(Bool)
    /// RESP3 `(`: an integer too big for 64 bits, as its decimal text.
    case bigNumber(String)
    /// RESP3 `=`: text with its three-letter format (`txt`, `mkd`).
    case verbatimString(format: String, text: String)
    /// RESP3 `%N`: key-value pairs in the server's order.
    case map([RESPPair])
    /// RESP3 `~N`: an unordered collection.
    case set([RESPValue])
    /// RESP3 `>N`: an out-of-band message (pub/sub, client-side caching).
    case push([RESPValue])
}

/// A key and its value in a RESP3 ``RESPValue/map(_:)``.
public struct RESPPair: Sendable, Hashable {
    /// The key.
    public var key: RESPValue
    /// The value.
    public var value: RESPValue

    /// Makes a pair.
    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// The value as text: bulk, simple and verbatim strings (UTF-8, invalid bytes replaced),
    /// integers, doubles and big numbers in decimal; nil for null, errors and aggregates.
    public var string: String? {
        switch self {
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .simpleString(let text), .bigNumber(let text): return text
        case .verbatimString(_, let text): return text
        case .integer(let value): return String(value)
        case .double(let value): return String(value)
        default: return nil
        }
    }

    /// The bytes of a bulk string, or the UTF-8 of a simple or verbatim string; nil otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): return bytes
        case .simpleString(let text), .verbatimString(_, let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The value as an integer: an ``integer(_:)``, or a string or double holding one exactly;
    /// nil otherwise.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString, .simpleString, .bigNumber: return string.flatMap { Int64($0) }
        case .double(let value): return Int64(exactly: value)
        case .boolean(let value): return value ? 1 : 0
        default: return nil
        }
    }

    /// The value as a double: a ``double(_:)``, an integer, or a string holding a number
    /// (`inf`/`-inf` included); nil otherwise.
    public var double: Double? {
        switch self {
        case .double(let value): return value
        case .integer(let value): return Double(value)
        case .bulkString, .simpleString, .bigNumber: return string.flatMap { Double($0) }
        default: return nil
        }
    }

    /// The elements of an array, set or push; a map's keys and values interleaved; nil otherwise.
    public var array: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): return values
        case .map(let pairs): return pairs.flatMap { [$0.key, $0.value] }
        default: return nil
        }
    }

    /// Whether this is ``null``.
    public var isNull: Bool { if case .null = self { true } else { false } }
}

extension RESPValue: CustomStringConvertible {
    /// A compact rendering for logs and test failures (bulk strings as text).
    public var description: String {
        switch self {
        case .simpleString(let text): return text
        case .error(let message): return "(error) \(message)"
        case .integer(let value): return "(integer) \(value)"
        case .bulkString(let bytes): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .null: return "(nil)"
        case .array(let values): return "[\(values.map(\.description).joined(separator: ", "))]"
        case .double(let value): return "(double) \(value)"
        case .boolean(let value): return "(boolean) \(value)"
        case .bigNumber(let text): return "(big number) \(text)"
        case .verbatimString(_, let text): return text
        case .map(let pairs): return "{\(pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .set(let values): return "~[\(values.map(\.description).joined(separator: ", "))]"
        case .push(let values): return ">[\(values.map(\.description).joined(separator: ", "))]"
        }
    }
}
