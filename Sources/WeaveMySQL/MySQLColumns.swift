import CMariaDB
import Glibc

/// The columns of a result set, shared by all its rows.
final class MySQLColumns: Sendable {
    /// How a column's text becomes a ``MySQLValue``.
    enum Kind: Sendable { case signed, unsigned, floating, binary, text, dateTime, time }

    let names: [String]
    let kinds: [Kind]
    let indexes: [String: Int]

    init(names: [String], kinds: [Kind]) {
        self.names = names
        self.kinds = kinds
        var indexes: [String: Int] = [:]
        for (index, name) in names.enumerated() where indexes[name] == nil { indexes[name] = index }
        self.indexes = indexes
    }

    /// Reads Connector/C's field descriptions.
    convenience init(_ fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) {
        var names: [String] = []
        var kinds: [Kind] = []
        for field in UnsafeBufferPointer(start: fields, count: count) {
            names.append(field.name.map { String(cString: $0) } ?? "")
            kinds.append(Self.kind(of: field))
        }
        self.init(names: names, kinds: kinds)
    }

    /// Whether `fields` describe these columns (the same names and kinds), so that the
    /// columns of one result serve the next one of the same shape: a connection that runs the
    /// same query again builds no names, kinds or index per query.
    func describe(_ fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) -> Bool {
        guard count == names.count else { return false }
        for column in 0..<count {
            let field = fields[column]
            guard Self.kind(of: field) == kinds[column] else { return false }
            let length = Int(field.name_length)
            let same = names[column].utf8.withContiguousStorageIfAvailable { stored in
                stored.count == length && (length == 0 || memcmp(stored.baseAddress!, field.name, length) == 0)
            }
            guard same == true else { return false }
        }
        return true
    }

    private static func kind(of field: MYSQL_FIELD) -> Kind {
        let unsigned = field.flags & UInt32(UNSIGNED_FLAG) != 0
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
            return unsigned ? .unsigned : .signed
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return .floating
        case MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB,
             MYSQL_TYPE_STRING, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_BIT, MYSQL_TYPE_GEOMETRY:
            // Character set 63 is `binary`: bytes, not text.
            return field.charsetnr == 63 ? .binary : .text
        case MYSQL_TYPE_DATE, MYSQL_TYPE_NEWDATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_DATETIME2,
             MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_TIMESTAMP2:
            return .dateTime
        case MYSQL_TYPE_TIME, MYSQL_TYPE_TIME2:
            return .time
        default:
            // DECIMAL (exact, so kept as text), JSON...
            return .text
        }
    }
}

/// One row of a result set: each column's value as the server sent it, by name or position.
///
/// Values arrive as text (numbers, dates and times the way the server writes them, such as
/// `2024-05-01 12:00:00`) or bytes (binary columns); the subscripts turn them into
/// ``MySQLValue``s by the column's type (`DATE`, `DATETIME` and `TIMESTAMP` as
/// ``MySQLValue/date(_:)`` read as UTC, `TIME` as ``MySQLValue/time(_:)``), and
/// ``decode(_:)`` into a `Decodable` type (`Date` and `Duration` properties included).
public struct MySQLRow: Sendable {
    let columns: MySQLColumns
    let cells: [[UInt8]?]

    init(columns: MySQLColumns, cells: [[UInt8]?]) {
        self.columns = columns
        self.cells = cells
    }

    /// The column names, in order.
    public var columnNames: [String] { columns.names }

    /// The value of the column named `column` (the first, if several share the name), or
    /// nil when there is no such column.
    public subscript(_ column: String) -> MySQLValue? {
        columns.indexes[column].map { self[$0] }
    }

    /// The value of the column at `index`, which must be in range (a precondition).
    public subscript(_ index: Int) -> MySQLValue {
        precondition(cells.indices.contains(index), "column \(index) out of range (\(cells.count) columns)")
        guard let bytes = cells[index] else { return .null }
        switch columns.kinds[index] {
        case .signed:
            if let value = Int64(String(decoding: bytes, as: UTF8.self)) { return .int(value) }
        case .unsigned:
            if let value = UInt64(String(decoding: bytes, as: UTF8.self)) { return .uint(value) }
        case .floating:
            if let value = Double(String(decoding: bytes, as: UTF8.self)) { return .double(value) }
        case .binary:
            return .bytes(bytes)
        case .dateTime:
            // A zero date ('0000-00-00') is no instant: it stays text.
            if let date = MySQLTime.date(parsing: bytes) { return .date(date) }
        case .time:
            if let duration = MySQLTime.duration(parsing: bytes) { return .time(duration) }
        case .text:
            break
        }
        return .string(String(decoding: bytes, as: UTF8.self))
    }

    /// Decodes the row into `type`: each coding key names a column; SQL `NULL` decodes as
    /// nil for optionals. A type that is not keyed (`Int`, `String`) decodes the first column.
    ///
    /// Throws ``MySQLError`` with code ``MySQLError/Code/decoding`` naming the column when a
    /// column is missing, `NULL` for a non-optional, or not convertible to the property's type.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try MySQLRowDecoder(row: self).decode(type)
        } catch let error as DecodingError {
            throw MySQLError(.decoding, message: describe(error), operation: "decode \(T.self)")
        }
    }
}

/// What went wrong and on which column, without DecodingError's dump of its context.
private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, _): return "no column named '\(key.stringValue)'"
    case .valueNotFound(let type, let context): return "column '\(path(context))' is NULL, \(type) expected"
    case .typeMismatch(let type, let context):
        return "column '\(path(context))' is not a \(type): \(context.debugDescription)"
    case .dataCorrupted(let context): return "column '\(path(context))': \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}
