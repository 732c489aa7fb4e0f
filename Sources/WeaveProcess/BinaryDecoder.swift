import Glibc
import WeaveCore

/// Decodes `Decodable` values from Weave's compact binary format.
///
/// Every read is bounds-checked: truncated, malformed or hostile input throws
/// `DecodingError.dataCorrupted` naming what was wrong and where; it never crashes, and
/// nesting is limited so it cannot exhaust the stack.
public struct BinaryDecoder: Sendable {
    public init() {}

    /// Decodes a `T` from `bytes`, which must hold exactly one value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes a `T` from `bytes` (valid for the duration of the call), which must hold
    /// exactly one value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        let reader = BinaryReader(bytes)
        var end = 0
        try reader.skip(at: &end, depth: 0)
        guard end == bytes.count else {
            throw reader.corrupted("\(bytes.count - end) trailing bytes after the value", codingPath: [])
        }
        return try reader.decode(type, at: 0, codingPath: [], depth: 0)
    }
}

/// The input and the primitive reads, shared by every container of one decode.
final class BinaryReader {
    /// Borrowed for the duration of one decode.
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func corrupted(_ message: String, codingPath: @autoclosure () -> [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: codingPath(), debugDescription: message))
    }

    func tag(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> UInt8 {
        guard position < bytes.count else { throw corrupted("input ends where a value should start", codingPath: codingPath()) }
        return bytes[position]
    }

    func varint(at position: inout Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw corrupted("input ends inside a number", codingPath: []) }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw corrupted("number longer than 64 bits", codingPath: []) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// A length followed by that many bytes; returns the range of the bytes.
    func lengthPrefixed(at position: inout Int) throws -> Range<Int> {
        let length = try varint(at: &position)
        guard length <= UInt64(bytes.count - position) else {
            throw corrupted("length \(length) runs past the end of the input", codingPath: [])
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    func string(_ range: Range<Int>, codingPath: @autoclosure () -> [any CodingKey]) throws -> String {
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw corrupted("invalid UTF-8 in a string", codingPath: codingPath())
        }
        return text
    }

    /// Moves `position` past one value of any kind.
    func skip(at position: inout Int, depth: Int) throws {
        guard depth < BinaryFormat.maximumDepth else { throw corrupted("values nested deeper than \(BinaryFormat.maximumDepth)", codingPath: []) }
        let tag = try self.tag(at: position, codingPath: [])
        position += 1
        switch tag {
        case BinaryFormat.null, BinaryFormat.false, BinaryFormat.true: break
        case BinaryFormat.signed, BinaryFormat.unsigned: _ = try varint(at: &position)
        case BinaryFormat.float, BinaryFormat.double:
            let size = tag == BinaryFormat.float ? 4 : 8
            guard bytes.count - position >= size else { throw corrupted("input ends inside a number", codingPath: []) }
            position += size
        case BinaryFormat.string, BinaryFormat.bytes: _ = try lengthPrefixed(at: &position)
        case BinaryFormat.array, BinaryFormat.map:
            while try self.tag(at: position, codingPath: []) != BinaryFormat.end {
                if tag == BinaryFormat.map { _ = try lengthPrefixed(at: &position) }
                try skip(at: &position, depth: depth + 1)
            }
            position += 1
        default: throw corrupted("unknown tag \(tag) at byte \(position - 1)", codingPath: [])
        }
    }

    // MARK: Primitives

    func decodeBool(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Bool {
        switch try tag(at: position, codingPath: codingPath()) {
        case BinaryFormat.true: return true
        case BinaryFormat.false: return false
        default: throw mismatch(Bool.self, at: position, codingPath: codingPath())
        }
    }

    /// Always inlined: each caller asks for one concrete type, and a generic copy would
    /// look up `Optional<T>`'s metadata on every call.
    @inline(__always) func decodeInteger<T: FixedWidthInteger>(_ type: T.Type, at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> T {
        var cursor = position + 1
        let value: T?
        switch try tag(at: position, codingPath: codingPath()) {
        case BinaryFormat.signed:
            let raw = try varint(at: &cursor)
            value = T(exactly: Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case BinaryFormat.unsigned:
            value = T(exactly: try varint(at: &cursor))
        default: throw mismatch(type, at: position, codingPath: codingPath())
        }
        guard let value else { throw corrupted("number out of range for \(T.self)", codingPath: codingPath()) }
        return value
    }

    func decodeDouble(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Double {
        let tag = try self.tag(at: position, codingPath: codingPath())
        switch tag {
        case BinaryFormat.double:
            guard bytes.count - position >= 9 else { throw corrupted("input ends inside a number", codingPath: codingPath()) }
            var bits: UInt64 = 0
            for index in 0..<8 { bits |= UInt64(bytes[position + 1 + index]) << (8 * UInt64(index)) }
            return Double(bitPattern: bits)
        case BinaryFormat.float:
            guard bytes.count - position >= 5 else { throw corrupted("input ends inside a number", codingPath: codingPath()) }
            var bits: UInt32 = 0
            for index in 0..<4 { bits |= UInt32(bytes[position + 1 + index]) << (8 * UInt32(index)) }
            return Double(Float(bitPattern: bits))
        case BinaryFormat.signed: return Double(try decodeInteger(Int64.self, at: position, codingPath: codingPath()))
        case BinaryFormat.unsigned: return Double(try decodeInteger(UInt64.self, at: position, codingPath: codingPath()))
        default: throw mismatch(Double.self, at: position, codingPath: codingPath())
        }
    }

    func decodeString(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> String {
        guard try tag(at: position, codingPath: codingPath()) == BinaryFormat.string else {
            throw mismatch(String.self, at: position, codingPath: codingPath())
        }
        var cursor = position + 1
        return try string(try lengthPrefixed(at: &cursor), codingPath: codingPath())
    }

    func decode<T: Decodable>(_ type: T.Type, at position: Int, codingPath: [any CodingKey], depth: Int) throws -> T {
        guard depth < BinaryFormat.maximumDepth else {
            throw corrupted("values nested deeper than \(BinaryFormat.maximumDepth)", codingPath: codingPath)
        }
        if T.self == BinaryFormat.byteArrayType {
            guard try tag(at: position, codingPath: codingPath) == BinaryFormat.bytes else {
                throw mismatch(type, at: position, codingPath: codingPath)
            }
            var cursor = position + 1
            let range = try lengthPrefixed(at: &cursor)
            return [UInt8](bytes[range]) as! T
        }
        // The common scalars without a `Decoder` and a boxed container each.
        if T.self == Int.self { return unsafeBitCast(try decodeInteger(Int.self, at: position, codingPath: codingPath), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try decodeInteger(Int64.self, at: position, codingPath: codingPath), to: T.self) }
        if T.self == Int32.self { return unsafeBitCast(try decodeInteger(Int32.self, at: position, codingPath: codingPath), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try decodeInteger(UInt64.self, at: position, codingPath: codingPath), to: T.self) }
        if T.self == UInt.self { return unsafeBitCast(try decodeInteger(UInt.self, at: position, codingPath: codingPath), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try decodeDouble(at: position, codingPath: codingPath), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try decodeBool(at: position, codingPath: codingPath), to: T.self) }
        if T.self == String.self { return try decodeString(at: position, codingPath: codingPath) as! T }
        return try T(from: BinaryReaderDecoder(reader: self, position: position, codingPath: codingPath, depth: depth))
    }

    func mismatch(_ type: Any.Type, at position: Int, codingPath: @autoclosure () -> [any CodingKey]) -> DecodingError {
        let found = position < bytes.count ? BinaryReader.tagName(bytes[position]) : "the end of the input"
        return .typeMismatch(type, .init(codingPath: codingPath(), debugDescription: "expected \(type), found \(found)"))
    }

    static func tagName(_ tag: UInt8) -> String {
        switch tag {
        case BinaryFormat.null: return "nil"
        case BinaryFormat.false, BinaryFormat.true: return "a Bool"
        case BinaryFormat.signed, BinaryFormat.unsigned: return "an integer"
        case BinaryFormat.float, BinaryFormat.double: return "a floating-point number"
        case BinaryFormat.string: return "a string"
        case BinaryFormat.bytes: return "bytes"
        case BinaryFormat.array: return "an array"
        case BinaryFormat.map: return "a keyed container"
        default: return "unknown tag \(tag)"
        }
    }
}

struct BinaryReaderDecoder: Decoder {
    let reader: BinaryReader
    let codingPath: [any CodingKey]
    /// The position (low 48 bits) and the depth (above): three words in all, so that
    /// passing it as `any Decoder` fits the existential's inline buffer (no box a value).
    private let location: Int

    var position: Int { location & 0xFFFF_FFFF_FFFF }
    var depth: Int { location >> 48 }

    init(reader: BinaryReader, position: Int, codingPath: [any CodingKey], depth: Int) {
        // Frames are far below 2^48 bytes and depth below BinaryFormat.maximumDepth.
        precondition(position >= 0 && position < 1 << 48 && depth >= 0 && depth < 1 << 15)
        self.reader = reader
        self.codingPath = codingPath
        self.location = depth << 48 | position
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try BinaryKeyedDecoding<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try BinaryUnkeyedDecoding(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BinarySingleValueDecoding(decoder: self)
    }

    func child(at position: Int, key: (any CodingKey)?) -> BinaryReaderDecoder {
        BinaryReaderDecoder(reader: reader, position: position, codingPath: key.map { codingPath + [$0] } ?? codingPath, depth: depth + 1)
    }
}

struct BinaryKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: BinaryReaderDecoder
    /// Each entry's key bytes and where its value starts; looked up by comparing bytes, so
    /// no `String` is built per key. The first four live inline (most types have few
    /// fields: no array, no allocation of its own); the rest in `more`.
    private var first = KeyedEntries()
    private var more: [KeyedEntry] = []
    var codingPath: [any CodingKey] { decoder.codingPath }
    var reader: BinaryReader { decoder.reader }

    init(decoder: BinaryReaderDecoder) throws {
        self.decoder = decoder
        let reader = decoder.reader
        guard try reader.tag(at: decoder.position, codingPath: decoder.codingPath) == BinaryFormat.map else {
            throw reader.mismatch([String: Any].self, at: decoder.position, codingPath: decoder.codingPath)
        }
        var cursor = decoder.position + 1
        while try reader.tag(at: cursor, codingPath: decoder.codingPath) != BinaryFormat.end {
            let key = try reader.lengthPrefixed(at: &cursor)
            if !first.append(KeyedEntry(key: key, value: cursor)) { more.append(KeyedEntry(key: key, value: cursor)) }
            try reader.skip(at: &cursor, depth: decoder.depth + 1)
        }
    }

    var allKeys: [Key] {
        (first.all + more).compactMap { entry in (try? reader.string(entry.key, codingPath: [])).flatMap { Key(stringValue: $0) } }
    }

    private func find(_ key: Key) -> Int? {
        var name = key.stringValue
        return name.withUTF8 { utf8 in
            let bytes = reader.bytes
            func matches(_ entry: KeyedEntry) -> Bool {
                entry.key.count == utf8.count
                    && (utf8.count == 0 || memcmp(bytes.baseAddress! + entry.key.lowerBound, utf8.baseAddress!, utf8.count) == 0)
            }
            if let entry = first.first(where: matches) { return entry.value }
            for entry in more where matches(entry) { return entry.value }
            return nil
        }
    }

    private func position(_ key: Key) throws -> Int {
        guard let position = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for key '\(key.stringValue)'"))
        }
        return position
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        try reader.tag(at: try position(key), codingPath: codingPath + [key]) == BinaryFormat.null
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try reader.decodeBool(at: try position(key), codingPath: codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try reader.decodeString(at: try position(key), codingPath: codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try reader.decodeDouble(at: try position(key), codingPath: codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try reader.decodeDouble(at: try position(key), codingPath: codingPath + [key])) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }

    @inline(__always) private func integer<T: FixedWidthInteger>(_ type: T.Type, _ key: Key) throws -> T {
        try reader.decodeInteger(type, at: try position(key), codingPath: codingPath + [key])
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decode(type, at: try position(key), codingPath: codingPath + [key], depth: decoder.depth + 1)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(at: try position(key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(at: try position(key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        guard let key = Key(stringValue: "super") else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "no 'super' key"))
        }
        return decoder.child(at: try position(key), key: key)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder.child(at: try position(key), key: key)
    }
}

/// One entry of a keyed container: its key's bytes and where its value starts.
struct KeyedEntry {
    var key: Range<Int>
    var value: Int
}

/// Up to four entries, stored inline.
struct KeyedEntries {
    private var storage: (KeyedEntry, KeyedEntry, KeyedEntry, KeyedEntry) = (.init(key: 0..<0, value: 0), .init(key: 0..<0, value: 0), .init(key: 0..<0, value: 0), .init(key: 0..<0, value: 0))
    private(set) var count = 0

    /// Adds `entry` if there is room.
    mutating func append(_ entry: KeyedEntry) -> Bool {
        switch count {
        case 0: storage.0 = entry
        case 1: storage.1 = entry
        case 2: storage.2 = entry
        case 3: storage.3 = entry
        default: return false
        }
        count += 1
        return true
    }

    func first(where predicate: (KeyedEntry) -> Bool) -> KeyedEntry? {
        if count > 0, predicate(storage.0) { return storage.0 }
        if count > 1, predicate(storage.1) { return storage.1 }
        if count > 2, predicate(storage.2) { return storage.2 }
        if count > 3, predicate(storage.3) { return storage.3 }
        return nil
    }

    var all: [KeyedEntry] { [storage.0, storage.1, storage.2, storage.3].prefix(count).map { $0 } }
}

struct BinaryUnkeyedDecoding: UnkeyedDecodingContainer {
    let decoder: BinaryReaderDecoder
    private var cursor: Int
    private(set) var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { nil }
    var reader: BinaryReader { decoder.reader }

    init(decoder: BinaryReaderDecoder) throws {
        self.decoder = decoder
        guard try decoder.reader.tag(at: decoder.position, codingPath: decoder.codingPath) == BinaryFormat.array else {
            throw decoder.reader.mismatch([Any].self, at: decoder.position, codingPath: decoder.codingPath)
        }
        cursor = decoder.position + 1
    }

    var isAtEnd: Bool { (try? reader.tag(at: cursor, codingPath: [])) ?? BinaryFormat.end == BinaryFormat.end }

    /// The position of the next element, moving past it.
    private mutating func next(_ type: Any.Type) throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "unkeyed container is at its end (\(currentIndex) elements)"))
        }
        let position = cursor
        try reader.skip(at: &cursor, depth: decoder.depth + 1)
        currentIndex += 1
        return position
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, try reader.tag(at: cursor, codingPath: codingPath) == BinaryFormat.null else { return false }
        _ = try next(Never.self)
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try reader.decodeBool(at: try next(type), codingPath: codingPath) }
    mutating func decode(_ type: String.Type) throws -> String { try reader.decodeString(at: try next(type), codingPath: codingPath) }
    mutating func decode(_ type: Double.Type) throws -> Double { try reader.decodeDouble(at: try next(type), codingPath: codingPath) }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try reader.decodeDouble(at: try next(type), codingPath: codingPath)) }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    @inline(__always) private mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        try reader.decodeInteger(type, at: try next(type), codingPath: codingPath)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decode(type, at: try next(type), codingPath: codingPath, depth: decoder.depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(at: try next([String: Any].self), key: nil).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try decoder.child(at: try next([Any].self), key: nil).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        decoder.child(at: try next(Any.self), key: nil)
    }
}

struct BinarySingleValueDecoding: SingleValueDecodingContainer {
    let decoder: BinaryReaderDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var reader: BinaryReader { decoder.reader }
    var position: Int { decoder.position }

    func decodeNil() -> Bool { (try? reader.tag(at: position, codingPath: [])) == BinaryFormat.null }
    func decode(_ type: Bool.Type) throws -> Bool { try reader.decodeBool(at: position, codingPath: codingPath) }
    func decode(_ type: String.Type) throws -> String { try reader.decodeString(at: position, codingPath: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try reader.decodeDouble(at: position, codingPath: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try reader.decodeDouble(at: position, codingPath: codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try reader.decodeInteger(type, at: position, codingPath: codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decode(type, at: position, codingPath: codingPath, depth: decoder.depth + 1)
    }
}
