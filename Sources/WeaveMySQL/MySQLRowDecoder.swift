import FoundationEssentials

/// Decodes one ``MySQLRow`` into a `Decodable` type: coding keys name columns; a type that
/// asks for a single value gets the first column.
struct MySQLRowDecoder: Decoder {
    let row: MySQLRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // Types with a meaning of their own are read straight from the first column.
        if isCellType(type) {
            guard !row.cells.isEmpty else {
                throw DecodingError.valueNotFound(type, .init(codingPath: [], debugDescription: "the row has no columns"))
            }
            return try CellDecoder(row: row, index: 0, codingPath: [ColumnKey(row.columns.names[0])]).decodeValue(type)
        }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: row, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(
            [Any].self, .init(codingPath: codingPath, debugDescription: "a row decodes as a keyed type or one value"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard !row.cells.isEmpty else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the row has no columns"))
        }
        return CellDecoder(row: row, index: 0, codingPath: [ColumnKey(row.columns.names[0])])
    }
}

/// The columns of a row as the keyed container of a decoded type.
private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: MySQLRow
    let codingPath: [any CodingKey]

    var allKeys: [Key] { row.columns.names.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { row.columns.indexes[key.stringValue] != nil }

    private func index(_ key: Key) throws -> Int {
        guard let index = row.columns.indexes[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no such column"))
        }
        return index
    }

    func decodeNil(forKey key: Key) throws -> Bool { row.cells[try index(key)] == nil }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try CellDecoder(row: row, index: try index(key), codingPath: codingPath + [key]).decodeValue(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw DecodingError.typeMismatch(
            type, .init(codingPath: codingPath + [key], debugDescription: "a column holds one value"))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(
            [Any].self, .init(codingPath: codingPath + [key], debugDescription: "a column holds one value"))
    }

    func superDecoder() throws -> any Decoder { MySQLRowDecoder(row: row, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { MySQLRowDecoder(row: row, codingPath: codingPath + [key]) }
}

/// Whether `type` is read from a column directly rather than through its `init(from:)`.
private func isCellType<T>(_ type: T.Type) -> Bool {
    type == [UInt8].self || type == MySQLValue.self || type == Date.self || type == Duration.self
        || type is any LosslessStringConvertible.Type
}

/// One column's value, as a decoder (for `RawRepresentable` enums and other single-value
/// types) and as the single-value container.
private struct CellDecoder: Decoder, SingleValueDecodingContainer {
    let row: MySQLRow
    let index: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    private var bytes: [UInt8]? { row.cells[index] }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if type == MySQLValue.self { return row[index] as! T }
        guard let bytes else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "NULL"))
        }
        if type == [UInt8].self { return bytes as! T }
        if type == String.self { return String(decoding: bytes, as: UTF8.self) as! T }
        if type == Bool.self { return try decode(Bool.self) as! T }
        if type == Date.self {
            guard let date = MySQLTime.date(parsing: bytes) else {
                throw DecodingError.typeMismatch(type, .init(
                    codingPath: codingPath, debugDescription: "'\(String(decoding: bytes, as: UTF8.self))' is no date"))
            }
            return date as! T
        }
        if type == Duration.self {
            guard let duration = MySQLTime.duration(parsing: bytes) else {
                throw DecodingError.typeMismatch(type, .init(
                    codingPath: codingPath, debugDescription: "'\(String(decoding: bytes, as: UTF8.self))' is no TIME"))
            }
            return duration as! T
        }
        if let convertible = type as? any LosslessStringConvertible.Type {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let value = convertible.init(text) else {
                throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "'\(text)'"))
            }
            return value as! T
        }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(
            [Any].self, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { bytes == nil }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard let bytes else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "NULL"))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if let number = Int64(text) { return number != 0 }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "'\(text)'"))
        }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }
}

/// A column name as a coding key, for error paths.
private struct ColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
