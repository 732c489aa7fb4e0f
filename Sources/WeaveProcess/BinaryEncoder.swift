import WeaveCore

/// Encodes `Encodable` values in Weave's compact binary format (the coder behind process
/// frames: JSON would cost microseconds a task). Every value is a one-byte tag and its
/// payload: integers as LEB128 varints (signed ones zig-zagged), strings and byte arrays
/// length-prefixed, containers closed by an end tag (the layout is written out beside the
/// internal `BinaryFormat`, in `Sources/WeaveProcess/BinaryFormat.swift`).
public struct BinaryEncoder: Sendable {
    public init() {}

    /// Returns `value` encoded.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(value, appendingTo: &bytes)
        return bytes
    }

    /// Appends each of `values`, encoded, to `bytes`, one after another: one pass with one
    /// writer for the lot (a pool's chunk).
    func encode<Values: Sequence>(contentsOf values: Values, appendingTo bytes: inout [UInt8]) throws where Values.Element: Encodable {
        try BinaryWriter.appending(to: &bytes) { try $0.encodeValues(values) }
    }

    /// Appends `value`, encoded, to `bytes` (reuses the caller's buffer).
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        try BinaryWriter.appending(to: &bytes) { try $0.encodeValue(value, depth: 0) }
    }
}

/// The output buffer and everything one encoding pass reuses from value to value.
///
/// What makes a run of values cheap (a chunk of tasks, an array of structs): the `Encoder`
/// of each nesting depth is reused while nobody else holds it, and each keyed container is
/// made once per key type and depth and handed out again (it holds only this writer and its
/// depth, so one instance serves every value). Making them anew costs two runtime metadata
/// lookups and an allocation a value, several times what writing the value's bytes costs.
/// The coding path is kept as a stack of keys and built only when someone asks for it.
final class BinaryWriter {
    /// The output so far, in memory this writer owns (allocated in `init`, freed in
    /// `deinit`): an append is a capacity test, a store and an add, where an `Array` append
    /// makes a uniqueness check and calls. Handed over in one copy at the end.
    // Unchecked, as every variable here: only this writer's own methods touch them, each
    // access begins and ends inside one of them (never across a call out to user code), and
    // the dynamic check would cost more than the append it guards (several a value).
    @exclusivity(unchecked) private var storage: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private(set) var count = 0
    /// Depths of the keyed and unkeyed containers still open: bit `d` for depth `d` below
    /// 64, `deepOpenDepths` (ascending) for the rest. Codable never says when a container
    /// is finished, so a container is closed (its end tag written) when an entry is next
    /// written at a shallower depth, or when the value that opened it ends. At most one is
    /// open a depth: an entry at a depth closes everything deeper first.
    @exclusivity(unchecked) private var openMask: UInt64 = 0
    @exclusivity(unchecked) private var deepOpenDepths: [Int] = []
    /// The keys of the values being encoded inside keyed containers, innermost last, each
    /// with the depth of its container: the coding path of a container at depth `d` is the
    /// keys below `d`.
    @exclusivity(unchecked) private var keys: [PathKey] = []
    /// One spare encoder a depth, reused when no container or caller still holds it.
    @exclusivity(unchecked) private var encoders: [BinaryWriterEncoder?] = []
    /// The spare encoder of depth 0 (a chunk's values), outside the array: one uniqueness
    /// check, not three.
    @exclusivity(unchecked) private var topEncoder: BinaryWriterEncoder?
    /// The keyed containers made so far, by key type and depth.
    @exclusivity(unchecked) private var keyedContainers = KeyedContainerCache()
    /// Keys written before and their bytes (``appendKey(_:)``), at most 16 of at most
    /// 16 bytes each, kept for the writer's life.
    @exclusivity(unchecked) private var keyCache: [CachedKey] = []
    /// The strings of ``keyCache``, kept alive so that their bits stay theirs.
    @exclusivity(unchecked) private var cachedKeys: [String] = []
    /// The last type ``encodeValue(_:depth:path:)`` found is none of the common ones: a run
    /// of values of one type tests it once, not once a value.
    @exclusivity(unchecked) private var lastCompositeType: ObjectIdentifier?

    init() {
        capacity = 256
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Runs `body` with a new writer, then appends what it wrote to `bytes` (nothing if it
    /// throws). The writer's caches (which refer back to it) are dropped before it returns.
    static func appending<R>(to bytes: inout [UInt8], _ body: (BinaryWriter) throws -> R) rethrows -> R {
        let writer = BinaryWriter()
        defer { writer.dropCaches() }
        return try writer.pass(appendingTo: &bytes, body)
    }

    /// One encoding pass with this writer: runs `body`, then appends what it wrote to
    /// `bytes` (nothing if it throws). Encoders and containers made in earlier passes are
    /// used again (``BinaryCoders``).
    func pass<R>(appendingTo bytes: inout [UInt8], _ body: (BinaryWriter) throws -> R) rethrows -> R {
        count = 0
        openMask = 0
        deepOpenDepths.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        defer {
            // A huge value once should not pin its buffer for the writer's life.
            if capacity > 1 << 20 {
                storage.deallocate()
                capacity = 256
                storage = .allocate(capacity: capacity)
            }
        }
        let result = try body(self)
        bytes.append(contentsOf: UnsafeBufferPointer(start: storage, count: count))
        return result
    }

    /// Drops the cached encoders and containers, which refer back to this writer.
    func dropCaches() {
        encoders = []
        topEncoder = nil
        keyedContainers.removeAll()
    }

    /// Makes room for `more` bytes after `count`.
    private func grow(_ more: Int) {
        let (needed, overflow) = count.addingReportingOverflow(more)
        precondition(!overflow, "encoded value too large")
        let newCapacity = Swift.max(needed, capacity * 2)
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.initialize(from: storage, count: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    @inline(__always) func append(_ byte: UInt8) {
        if count == capacity { grow(1) }
        storage[count] = byte
        count += 1
    }

    @inline(__always) func append(_ raw: UnsafeRawBufferPointer) {
        if capacity - count < raw.count { grow(raw.count) }
        if let base = raw.baseAddress { UnsafeMutableRawPointer(storage + count).copyMemory(from: base, byteCount: raw.count) }
        count += raw.count
    }

    /// Closes every container deeper than `depth` before an entry at `depth` is written.
    @inline(__always) func enter(_ depth: Int) {
        if !deepOpenDepths.isEmpty { closeDeep(above: depth) }
        let shift = depth + 1  // depth is -1 when a top-level value ends
        guard shift < 64 else { return }
        var above = openMask >> UInt64(shift)
        if above != 0 {
            openMask &= (1 << UInt64(shift)) &- 1
            // A bit at a time (usually one): `nonzeroBitCount` is a software popcount here.
            while above != 0 {
                append(BinaryFormat.end)
                above &= above &- 1
            }
        }
    }

    private func closeDeep(above depth: Int) {
        while let last = deepOpenDepths.last, last > depth {
            deepOpenDepths.removeLast()
            append(BinaryFormat.end)
        }
    }

    /// Records a container opened at `depth` (its tag just written).
    @inline(__always) func opened(at depth: Int) {
        if depth < 64 { openMask |= 1 << UInt64(depth) } else { deepOpenDepths.append(depth) }
    }

    @inline(__always) func appendVarint(_ value: UInt64) {
        if value < 0x80 {
            append(UInt8(value))
            return
        }
        // Two and three bytes (below 2^21: most integers a task carries) in line.
        if value < 1 << 21 && capacity &- count >= 3 {
            let base = storage + count
            base[0] = UInt8(truncatingIfNeeded: value) | 0x80
            if value < 1 << 14 {
                base[1] = UInt8(truncatingIfNeeded: value &>> 7)
                count &+= 2
            } else {
                base[1] = UInt8(truncatingIfNeeded: value &>> 7) | 0x80
                base[2] = UInt8(truncatingIfNeeded: value &>> 14)
                count &+= 3
            }
            return
        }
        appendLongVarint(value)
    }

    private func appendLongVarint(_ value: UInt64) {
        if capacity - count < 10 { grow(10) }
        // Locals, not the properties: stores through `storage` would otherwise make the
        // compiler reload `count` and `storage` every byte.
        let base = storage + count
        var value = value
        var index = 0
        while value >= 0x80 {
            base[index] = UInt8(truncatingIfNeeded: value) | 0x80
            value &>>= 7
            index &+= 1
        }
        base[index] = UInt8(truncatingIfNeeded: value)
        count += index &+ 1
    }

    @inline(__always) func appendSigned(_ value: Int64) {
        append(BinaryFormat.signed)
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inline(__always) func appendUnsigned(_ value: UInt64) {
        append(BinaryFormat.unsigned)
        appendVarint(value)
    }

    func appendString(_ value: String) {
        append(BinaryFormat.string)
        appendRawString(value)
    }

    /// A map key: its string without a tag, as ``appendRawString(_:)`` writes it, copied
    /// from ``keyCache`` when the same key was written before (a run of values of one type
    /// writes the same few keys again and again).
    @inline(__always) func appendKey(_ key: String) {
        let bits = unsafeBitCast(key, to: (UInt64, UInt64).self)
        var index = 0
        while index < keyCache.count {
            // Plain values only (the strings are kept apart): no retain to read one.
            let entry = keyCache[index]
            if entry.bits.0 == bits.0 && entry.bits.1 == bits.1 {
                if capacity &- count < 16 { grow(16) }
                // Both words, whatever the length: bytes past it are overwritten next.
                let base = UnsafeMutableRawPointer(storage + count)
                base.storeBytes(of: entry.encoded.0, as: UInt64.self)
                base.storeBytes(of: entry.encoded.1, toByteOffset: 8, as: UInt64.self)
                count &+= entry.length
                return
            }
            index &+= 1
        }
        appendUncachedKey(key, bits: bits)
    }

    @inline(never) private func appendUncachedKey(_ key: String, bits: (UInt64, UInt64)) {
        let start = count
        appendRawString(key)
        let length = count - start
        guard length <= 16 && keyCache.count < 16 else { return }
        var encoded: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &encoded) { $0.copyMemory(from: UnsafeRawBufferPointer(start: storage + start, count: length)) }
        keyCache.append(CachedKey(bits: bits, encoded: encoded, length: length))
        cachedKeys.append(key)
    }

    /// A string without its tag (map keys).
    func appendRawString(_ value: String) {
        let done: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            appendVarint(UInt64(utf8.count))
            append(UnsafeRawBufferPointer(utf8))
        }
        if done == nil {
            var copy = value
            copy.withUTF8 { utf8 in
                appendVarint(UInt64(utf8.count))
                append(UnsafeRawBufferPointer(utf8))
            }
        }
    }

    func appendDouble(_ value: Double) {
        append(BinaryFormat.double)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { append($0) }
    }

    func appendFloat(_ value: Float) {
        append(BinaryFormat.float)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { append($0) }
    }

    /// The coding path of a container at `depth`.
    func codingPath(below depth: Int) -> [any CodingKey] {
        keys.filter { $0.depth < depth }.map(\.key)
    }

    /// Encodes a value at `depth` (its containers are `depth`), closing whatever it opened.
    /// `path` is its coding path when it is not the stack's (values under a nested
    /// container or a super encoder, which cannot say when they are done).
    func encodeValue<T: Encodable>(_ value: T, depth: Int, path: [any CodingKey]? = nil) throws {
        if ObjectIdentifier(T.self) != lastCompositeType {
            if encodeCommon(value) { return }
            lastCompositeType = ObjectIdentifier(T.self)
        }
        try encodeComposite(value, depth: depth, path: path)
    }

    /// ``encodeValue(_:depth:path:)`` for a type ``encodeCommon(_:)`` does not write.
    private func encodeComposite<T: Encodable>(_ value: T, depth: Int, path: [any CodingKey]?) throws {
        let encoder: BinaryWriterEncoder
        if path == nil, let spare = spareEncoder(at: depth) {
            encoder = spare
        } else {
            encoder = BinaryWriterEncoder(writer: self, depth: depth, path: path)
            if path == nil { keepEncoder(encoder, at: depth) }
        }
        try value.encode(to: encoder)
        if encoder.opened == .none { append(BinaryFormat.null) }  // encoded nothing at all
        enter(depth - 1)
    }

    /// Encodes `value` under `key` of a keyed container at `depth`, whose own path is the
    /// stack's when `path` is nil.
    @inline(__always) func encodeValue<T: Encodable>(_ value: T, forKey key: some CodingKey, depth: Int, path: [any CodingKey]?) throws {
        if let path { return try encodeValue(value, depth: depth + 1, path: path + [key]) }
        if ObjectIdentifier(T.self) != lastCompositeType {
            if encodeCommon(value) { return }
            lastCompositeType = ObjectIdentifier(T.self)
        }
        keys.append(PathKey(depth: depth, key: key))
        defer { keys.removeLast() }
        try encodeComposite(value, depth: depth + 1, path: nil)
    }

    /// Writes the scalars and arrays of scalars that are most of what tasks carry straight
    /// into the buffer, with no `Encoder` and no container: the same bytes their
    /// `encode(to:)` writes. Compares the static type: `as? [UInt8]` also succeeds for an
    /// empty `[UInt16]`. False for every other type.
    @inline(__always) private func encodeCommon<T: Encodable>(_ value: T) -> Bool {
        if T.self == Int.self { appendSigned(Int64(unsafeBitCast(value, to: Int.self))); return true }
        if T.self == Double.self { appendDouble(unsafeBitCast(value, to: Double.self)); return true }
        if T.self == Bool.self { append(unsafeBitCast(value, to: Bool.self) ? BinaryFormat.true : BinaryFormat.false); return true }
        if T.self == String.self { appendString(unsafeBitCast(value, to: String.self)); return true }
        if T.self == Int64.self { appendSigned(unsafeBitCast(value, to: Int64.self)); return true }
        if T.self == Int32.self { appendSigned(Int64(unsafeBitCast(value, to: Int32.self))); return true }
        if T.self == UInt64.self { appendUnsigned(unsafeBitCast(value, to: UInt64.self)); return true }
        if T.self == UInt.self { appendUnsigned(UInt64(unsafeBitCast(value, to: UInt.self))); return true }
        if T.self == Float.self { appendFloat(unsafeBitCast(value, to: Float.self)); return true }
        return encodeCommonArray(value)
    }

    private func encodeCommonArray<T: Encodable>(_ value: T) -> Bool {
        // Byte arrays are common in frames: one length and a copy, not a value per byte.
        if T.self == [UInt8].self {
            let raw = unsafeBitCast(value, to: [UInt8].self)
            append(BinaryFormat.bytes)
            appendVarint(UInt64(raw.count))
            raw.withUnsafeBytes { append($0) }
            return true
        }
        if T.self == [Int].self { appendArray(unsafeBitCast(value, to: [Int].self)) { self.appendSigned(Int64($0)) }; return true }
        if T.self == [Double].self { appendArray(unsafeBitCast(value, to: [Double].self)) { self.appendDouble($0) }; return true }
        if T.self == [String].self { appendArray(unsafeBitCast(value, to: [String].self)) { self.appendString($0) }; return true }
        if T.self == [Bool].self { appendArray(unsafeBitCast(value, to: [Bool].self)) { self.append($0 ? BinaryFormat.true : BinaryFormat.false) }; return true }
        if T.self == [Int64].self { appendArray(unsafeBitCast(value, to: [Int64].self)) { self.appendSigned($0) }; return true }
        if T.self == [UInt64].self { appendArray(unsafeBitCast(value, to: [UInt64].self)) { self.appendUnsigned($0) }; return true }
        return false
    }

    @inline(__always) private func appendArray<Element>(_ elements: [Element], _ appendElement: (Element) -> Void) {
        append(BinaryFormat.array)
        for element in elements { appendElement(element) }
        append(BinaryFormat.end)
    }

    /// Encodes each value of `buffer` at the top level, one after another: a pool's chunk,
    /// with no collection type whose metadata this unspecialized code would look up.
    func encodeValues<T: Encodable>(_ buffer: UnsafeBufferPointer<T>) throws {
        guard !buffer.isEmpty else { return }
        if BinaryWriter.writesDirectly(T.self) {
            for index in buffer.indices { try encodeValue(buffer[index], depth: 0) }
        } else {
            try encodeComposites(buffer)
        }
    }

    /// Encodes each value at the top level, one after another.
    func encodeValues<Values: Sequence>(_ values: Values) throws where Values.Element: Encodable {
        // Indexing a buffer needs nothing but the element's own witnesses; an iterator in
        // this unspecialized code looks its type up on every `next()`.
        let done: Bool? = try values.withContiguousStorageIfAvailable { buffer in
            guard !buffer.isEmpty else { return true }
            if BinaryWriter.writesDirectly(Values.Element.self) {
                for index in buffer.indices { try encodeValue(buffer[index], depth: 0) }
            } else {
                try encodeComposites(buffer)
            }
            return true
        }
        if done == nil {
            for value in values { try encodeValue(value, depth: 0) }
        }
    }

    /// Whether ``encodeCommon(_:)`` writes `T` (with no `Encoder`).
    @inline(__always) static func writesDirectly<T>(_ type: T.Type) -> Bool {
        T.self == Int.self || T.self == Double.self || T.self == Bool.self || T.self == String.self
            || T.self == Int64.self || T.self == Int32.self || T.self == UInt64.self || T.self == UInt.self
            || T.self == Float.self || T.self == [UInt8].self || T.self == [Int].self || T.self == [Double].self
            || T.self == [String].self || T.self == [Bool].self || T.self == [Int64].self || T.self == [UInt64].self
    }

    /// Encodes `values`, of a type ``encodeCommon(_:)`` does not write, at the top level:
    /// one encoder, and one `any Encoder` made of it, for the lot (not a lookup, retains and
    /// releases a value). Within a pass only this loop encodes at depth 0, so the encoder
    /// is not shared: each value starts it afresh. User `encode(to:)` is called as ever.
    private func encodeComposites<T: Encodable>(_ values: UnsafeBufferPointer<T>) throws {
        if topEncoder == nil { keepEncoder(BinaryWriterEncoder(writer: self, depth: 0, path: nil), at: 0) }
        guard let encoder = spareEncoder(at: 0) else {
            for index in values.indices { try encodeComposite(values[index], depth: 0, path: nil) }
            return
        }
        let existential: any Encoder = encoder
        for index in values.indices {
            encoder.opened = .none
            try values[index].encode(to: existential)
            if encoder.opened == .none { append(BinaryFormat.null) }  // encoded nothing at all
            enter(-1)
        }
    }

    // MARK: Reuse

    /// The spare encoder of `depth`, reset, if no one else holds it (a value still being
    /// encoded there, or a container a user kept).
    @inline(__always) private func spareEncoder(at depth: Int) -> BinaryWriterEncoder? {
        if depth == 0 {
            guard isKnownUniquelyReferenced(&topEncoder), let encoder = topEncoder else { return nil }
            encoder.opened = .none
            return encoder
        }
        guard depth < encoders.count, isKnownUniquelyReferenced(&encoders[depth]), let encoder = encoders[depth] else { return nil }
        encoder.opened = .none
        return encoder
    }

    private func keepEncoder(_ encoder: BinaryWriterEncoder, at depth: Int) {
        if depth == 0 {
            topEncoder = encoder
            return
        }
        while encoders.count <= depth { encoders.append(nil) }
        encoders[depth] = encoder
    }

    /// The keyed container of `Key` at `depth`, made once per writer.
    func keyedContainer<Key: CodingKey>(_ type: Key.Type, depth: Int) -> KeyedEncodingContainer<Key> {
        if let slot = keyedContainers.slot(ObjectIdentifier(type), depth: depth) {
            // Same key type, so the same generic class: no runtime check needed.
            return slot._withUnsafeGuaranteedRef { unsafeDowncast($0, to: CachedKeyedContainer<KeyedEncodingContainer<Key>>.self).copy() }
        }
        return makeKeyedContainer(type, depth: depth)
    }

    /// Makes and caches the keyed container of `Key` at `depth`. Kept apart so that the
    /// metadata it needs is not looked up on the way to a cached one.
    @inline(never) private func makeKeyedContainer<Key: CodingKey>(_ type: Key.Type, depth: Int) -> KeyedEncodingContainer<Key> {
        let container = KeyedEncodingContainer(BinaryKeyedEncoding<Key>(writer: self, depth: depth, path: nil))
        keyedContainers.insert(CachedKeyedContainer(container, state: nil), keyType: ObjectIdentifier(type), depth: depth)
        return container
    }
}

/// A map key's encoded bytes (its length and UTF-8, at most 16 bytes), found by the bits of
/// the `String` it was written from. Equal bits are the same string: a small string's bits
/// are its contents, and a larger one's name its storage, which the writer keeps alive (and
/// so shared, never changed in place).
struct CachedKey {
    let bits: (UInt64, UInt64)
    let encoded: (UInt64, UInt64)
    let length: Int
}

/// One key of the coding path, with the depth of the container it belongs to.
struct PathKey {
    let depth: Int
    let key: any CodingKey
}

final class BinaryWriterEncoder: Encoder {
    enum Opened { case none, single, keyed, unkeyed }

    let writer: BinaryWriter
    /// Nesting depth of this value's containers.
    let depth: Int
    /// The coding path when it is not the writer's stack (see ``BinaryWriter/encodeValue(_:depth:path:)``).
    let path: [any CodingKey]?
    /// Unchecked: set by this encoder and read by the writer, never across a call out.
    @exclusivity(unchecked) var opened = Opened.none
    var codingPath: [any CodingKey] { path ?? writer.codingPath(below: depth) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(writer: BinaryWriter, depth: Int, path: [any CodingKey]?) {
        self.writer = writer
        self.depth = depth
        self.path = path
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        open(.keyed, tag: BinaryFormat.map)
        if path == nil { return writer.keyedContainer(type, depth: depth) }
        return KeyedEncodingContainer(BinaryKeyedEncoding<Key>(writer: writer, depth: depth, path: path))
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
        writer.opened(at: depth)
    }
}

/// Holds nothing but the writer and where it writes: one instance serves every value of
/// its key type at its depth (``BinaryWriter/keyedContainer(_:depth:)``).
struct BinaryKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: BinaryWriter
    let depth: Int
    /// Set only for nested containers and super encoders (see ``BinaryWriterEncoder/path``).
    let path: [any CodingKey]?
    var codingPath: [any CodingKey] { path ?? writer.codingPath(below: depth) }

    @inline(__always) private func key(_ key: Key) {
        writer.enter(depth)
        writer.appendKey(key.stringValue)
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
        try writer.encodeValue(value, forKey: key, depth: depth, path: path)
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
        writer.enter(depth)
        writer.appendRawString("super")
        return nested(codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        self.key(key)
        return nested(codingPath + [key])
    }

    private func nested(_ path: [any CodingKey]) -> BinaryWriterEncoder {
        BinaryWriterEncoder(writer: writer, depth: depth + 1, path: path)
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
        // Elements add no key to the path, so they share the stack's path when this
        // container does.
        try writer.encodeValue(value, depth: encoder.depth + 1, path: encoder.path)
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
        BinaryWriterEncoder(writer: writer, depth: encoder.depth + 1, path: codingPath)
    }
}
