import WeaveCore

/// Encodes `Encodable` values in Weave's compact binary format (the coder behind process
/// frames: JSON would cost microseconds a task).
public struct BinaryEncoder: Sendable {
    public init() {}

    /// Returns `value` encoded.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let writer = BinaryWriter()
        writer.bytes.reserveCapacity(64)
        try writer.encodeValue(value, codingPath: [], depth: 0)
        return writer.bytes
    }

    /// Appends each of `values`, encoded, to `bytes`, one after another: one pass with one
    /// writer for the lot (a pool's chunk).
    func encode<Values: Sequence>(contentsOf values: Values, appendingTo bytes: inout [UInt8]) throws where Values.Element: Encodable {
        let writer = BinaryWriter()
        swap(&writer.bytes, &bytes)
        defer { swap(&writer.bytes, &bytes) }
        try writer.encodeValues(values)
    }

    /// Appends `value`, encoded, to `bytes` (reuses the caller's buffer).
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let writer = BinaryWriter()
        swap(&writer.bytes, &bytes)
        defer { swap(&writer.bytes, &bytes) }
        try writer.encodeValue(value, codingPath: [], depth: 0)
    }
}

/// The output buffer and the `Encoder` for one value. Containers write straight into
/// `bytes`; a nested value gets its own small `BinaryWriterEncoder` sharing the buffer.
final class BinaryWriter {
    // Unchecked: only this writer's own methods touch these, each access begins and ends
    // inside one of them (never across a call out to user code), and the dynamic check
    // would cost more than the append it guards (several a value).
    @exclusivity(unchecked) var bytes: [UInt8] = []
    /// Depths of the keyed and unkeyed containers still open. Codable never says when a
    /// container is finished, so a container is closed (its end tag written) when an
    /// entry is next written at a shallower depth, or when the value that opened it ends.
    @exclusivity(unchecked) var openDepths: [Int] = []

    init() {}

    /// Closes every container deeper than `depth` before an entry at `depth` is written.
    @inline(__always) func enter(_ depth: Int) {
        while let last = openDepths.last, last > depth {
            openDepths.removeLast()
            bytes.append(BinaryFormat.end)
        }
    }

    @inline(__always) func append(_ byte: UInt8) { bytes.append(byte) }

    func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    func appendSigned(_ value: Int64) {
        append(BinaryFormat.signed)
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    func appendUnsigned(_ value: UInt64) {
        append(BinaryFormat.unsigned)
        appendVarint(value)
    }

    func appendString(_ value: String) {
        append(BinaryFormat.string)
        appendRawString(value)
    }

    /// A string without its tag (map keys).
    func appendRawString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            appendVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    func appendDouble(_ value: Double) {
        append(BinaryFormat.double)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    func appendFloat(_ value: Float) {
        append(BinaryFormat.float)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Encodes a value at `depth` (its containers are `depth`), closing whatever it opened.
    func encodeValue<T: Encodable>(_ value: T, codingPath: [any CodingKey], depth: Int) throws {
        // Byte arrays are common in frames: one length and a copy, not a container per byte.
        // Compare the static type: `as? [UInt8]` also succeeds for an empty `[UInt16]`.
        if T.self == BinaryFormat.byteArrayType, let raw = value as? [UInt8] {
            append(BinaryFormat.bytes)
            appendVarint(UInt64(raw.count))
            bytes.append(contentsOf: raw)
            return
        }
        // The common scalars without an `Encoder` and a boxed container each (the same
        // bytes their `encode(to:)` writes through a single-value container).
        if T.self == Int.self { appendSigned(Int64(unsafeBitCast(value, to: Int.self))); return }
        if T.self == Int64.self { appendSigned(unsafeBitCast(value, to: Int64.self)); return }
        if T.self == Int32.self { appendSigned(Int64(unsafeBitCast(value, to: Int32.self))); return }
        if T.self == UInt64.self { appendUnsigned(unsafeBitCast(value, to: UInt64.self)); return }
        if T.self == UInt.self { appendUnsigned(UInt64(unsafeBitCast(value, to: UInt.self))); return }
        if T.self == Double.self { appendDouble(unsafeBitCast(value, to: Double.self)); return }
        if T.self == Bool.self { append(unsafeBitCast(value, to: Bool.self) ? BinaryFormat.true : BinaryFormat.false); return }
        if T.self == String.self, let text = value as? String { appendString(text); return }
        // A top-level value reuses the writer's encoder when no one holds on to it (a chunk
        // of tasks is a run of top-level values): one allocation less per value.
        let encoder: BinaryWriterEncoder
        if depth == 0, reusesEncoder, isKnownUniquelyReferenced(&topLevelEncoder), let spare = topLevelEncoder {
            spare.opened = .none
            encoder = spare
        } else {
            encoder = BinaryWriterEncoder(writer: self, codingPath: codingPath, depth: depth)
            if depth == 0 && reusesEncoder { topLevelEncoder = encoder }
        }
        try value.encode(to: encoder)
        if encoder.opened == .none { append(BinaryFormat.null) }  // encoded nothing at all
        enter(depth - 1)
    }

    /// The encoder of the last top-level value, kept for the next one while
    /// ``encodeValues(_:)`` runs (a cycle with this writer until it returns).
    private var topLevelEncoder: BinaryWriterEncoder?
    private var reusesEncoder = false

    /// Runs `body`, in which top-level values share one encoder (a run of values, as a
    /// chunk's tasks or outputs are).
    func reusingEncoder<R>(_ body: () throws -> R) rethrows -> R {
        reusesEncoder = true
        defer {
            reusesEncoder = false
            topLevelEncoder = nil
        }
        return try body()
    }

    /// Encodes each value at the top level, one after another.
    func encodeValues<Values: Sequence>(_ values: Values) throws where Values.Element: Encodable {
        try reusingEncoder {
            // Indexing a buffer needs nothing but the element's own witnesses; an iterator in
            // this unspecialized code looks its type up on every `next()`.
            let done: Bool? = try values.withContiguousStorageIfAvailable { buffer in
                for index in buffer.indices { try encodeValue(buffer[index], codingPath: [], depth: 0) }
                return true
            }
            if done == nil {
                for value in values { try encodeValue(value, codingPath: [], depth: 0) }
            }
        }
    }
}

final class BinaryWriterEncoder: Encoder {
    enum Opened { case none, single, keyed, unkeyed }

    let writer: BinaryWriter
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var opened = Opened.none
    /// Nesting depth of this value's containers.
    let depth: Int

    init(writer: BinaryWriter, codingPath: [any CodingKey], depth: Int) {
        self.writer = writer
        self.codingPath = codingPath
        self.depth = depth
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        open(.keyed, tag: BinaryFormat.map)
        return KeyedEncodingContainer(BinaryKeyedEncoding<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        open(.unkeyed, tag: BinaryFormat.array)
        return BinaryUnkeyedEncoding(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        if opened == .none { opened = .single }
        return BinaryUnkeyedEncoding(encoder: self)
    }

    /// A type may ask for its container more than once (class hierarchies do): the tag is
    /// written once, and the entries continue the same container.
    private func open(_ kind: Opened, tag: UInt8) {
        guard opened == .none else { return }
        opened = kind
        writer.append(tag)
        writer.openDepths.append(depth)
    }
}

struct BinaryKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: BinaryWriterEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var writer: BinaryWriter { encoder.writer }

    private func key(_ key: Key) {
        writer.enter(encoder.depth)
        writer.appendRawString(key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws { self.key(key); writer.append(BinaryFormat.null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { self.key(key); writer.append(value ? BinaryFormat.true : BinaryFormat.false) }
    mutating func encode(_ value: String, forKey key: Key) throws { self.key(key); writer.appendString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { self.key(key); writer.appendDouble(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { self.key(key); writer.appendFloat(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { self.key(key); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { self.key(key); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { self.key(key); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { self.key(key); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { self.key(key); writer.appendSigned(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { self.key(key); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { self.key(key); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { self.key(key); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { self.key(key); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { self.key(key); writer.appendUnsigned(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        self.key(key)
        try writer.encodeValue(value, codingPath: codingPath + [key], depth: encoder.depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        self.key(key)
        return nested(codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        self.key(key)
        return nested(codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        writer.enter(encoder.depth)
        writer.appendRawString("super")
        return nested(codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        self.key(key)
        return nested(codingPath + [key])
    }

    private func nested(_ path: [any CodingKey]) -> BinaryWriterEncoder {
        BinaryWriterEncoder(writer: writer, codingPath: path, depth: encoder.depth + 1)
    }
}

/// Unkeyed and single-value containers write the same way: values one after another.
struct BinaryUnkeyedEncoding: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    let encoder: BinaryWriterEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var writer: BinaryWriter { encoder.writer }
    var count = 0

    init(encoder: BinaryWriterEncoder) { self.encoder = encoder }

    mutating func encodeNil() throws { count += 1; writer.enter(encoder.depth); writer.append(BinaryFormat.null) }
    mutating func encode(_ value: Bool) throws { count += 1; writer.enter(encoder.depth); writer.append(value ? BinaryFormat.true : BinaryFormat.false) }
    mutating func encode(_ value: String) throws { count += 1; writer.enter(encoder.depth); writer.appendString(value) }
    mutating func encode(_ value: Double) throws { count += 1; writer.enter(encoder.depth); writer.appendDouble(value) }
    mutating func encode(_ value: Float) throws { count += 1; writer.enter(encoder.depth); writer.appendFloat(value) }
    mutating func encode(_ value: Int) throws { count += 1; writer.enter(encoder.depth); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { count += 1; writer.enter(encoder.depth); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { count += 1; writer.enter(encoder.depth); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { count += 1; writer.enter(encoder.depth); writer.appendSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { count += 1; writer.enter(encoder.depth); writer.appendSigned(value) }
    mutating func encode(_ value: UInt) throws { count += 1; writer.enter(encoder.depth); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { count += 1; writer.enter(encoder.depth); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { count += 1; writer.enter(encoder.depth); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { count += 1; writer.enter(encoder.depth); writer.appendUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { count += 1; writer.enter(encoder.depth); writer.appendUnsigned(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        count += 1
        writer.enter(encoder.depth)
        try writer.encodeValue(value, codingPath: codingPath, depth: encoder.depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        count += 1
        writer.enter(encoder.depth)
        return nested().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        count += 1
        writer.enter(encoder.depth)
        return nested().unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        count += 1
        writer.enter(encoder.depth)
        return nested()
    }

    private func nested() -> BinaryWriterEncoder {
        BinaryWriterEncoder(writer: writer, codingPath: codingPath, depth: encoder.depth + 1)
    }
}
