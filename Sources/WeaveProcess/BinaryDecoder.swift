import Glibc
import WeaveCore

/// Decodes `Decodable` values from Weave's compact binary format (see ``BinaryEncoder``).
///
/// Every read is bounds-checked: truncated, malformed or hostile input throws a
/// `DecodingError` naming the type expected or what was wrong, and the byte offset where;
/// it never crashes, and nesting is limited so it cannot exhaust the stack.
public struct BinaryDecoder: Sendable {
    public init() {}

    /// Decodes a `T` from `bytes`, which must hold exactly one value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes a `T` from `bytes` (valid for the duration of the call), which must hold
    /// exactly one value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        try BinaryReader.reading(bytes) { reader in
            var end = 0
            try reader.skip(at: &end, depth: 0)
            guard end == bytes.count else {
                throw reader.corrupted("\(bytes.count - end) trailing bytes after the value, at byte \(end)", codingPath: [])
            }
            return try reader.decode(type, at: 0, depth: 0)
        }
    }
}

/// The input and the primitive reads, shared by every container of one decoding pass.
///
/// As ``BinaryWriter`` does, it reuses each keyed container from value to value (one per
/// key type and depth, reloaded with the next value's entries) and keeps the coding path
/// as a stack of keys, built only when someone asks for it.
final class BinaryReader {
    /// Borrowed for the duration of one decoding pass; empty between passes.
    @exclusivity(unchecked) private(set) var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The keys of the values being decoded inside keyed containers, innermost last, each
    /// with the depth of its container.
    @exclusivity(unchecked) private var keys: [PathKey] = []
    /// The reusable keyed containers made so far, by key type and depth.
    @exclusivity(unchecked) private var keyedContainers = KeyedContainerCache()
    /// The last type decoded that is none of the common ones: a run of values of one type
    /// tests it once, not once a value.
    @exclusivity(unchecked) private var lastCompositeType: ObjectIdentifier?

    init() {}

    /// Runs `body` with a new reader of `bytes` (borrowed for the call). The reader's
    /// caches (which refer back to it) are dropped before it returns.
    static func reading<R>(_ bytes: UnsafeRawBufferPointer, _ body: (BinaryReader) throws -> R) rethrows -> R {
        let reader = BinaryReader()
        defer { reader.dropCaches() }
        return try reader.pass(over: bytes, body)
    }

    /// One decoding pass over `bytes` (borrowed for the call) with this reader. Containers
    /// made in earlier passes are used again (``BinaryCoders``).
    func pass<R>(over bytes: UnsafeRawBufferPointer, _ body: (BinaryReader) throws -> R) rethrows -> R {
        self.bytes = bytes
        keys.removeAll(keepingCapacity: true)
        topMap = (-1, -1)
        defer { self.bytes = UnsafeRawBufferPointer(start: nil, count: 0) }
        return try body(self)
    }

    /// Drops the cached containers, which refer back to this reader.
    func dropCaches() { keyedContainers.removeAll() }

    /// The coding path of a container at `depth`.
    func codingPath(below depth: Int) -> [any CodingKey] {
        keys.filter { $0.depth < depth }.map(\.key)
    }

    func corrupted(_ message: String, codingPath: @autoclosure () -> [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: codingPath(), debugDescription: message))
    }

    @inline(__always) func tag(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> UInt8 {
        guard position < bytes.count else { throw corrupted("input ends at byte \(position), where a value should start", codingPath: codingPath()) }
        return bytes[position]
    }

    @inline(__always) func varint(at position: inout Int) throws -> UInt64 {
        if position < bytes.count, bytes[position] < 0x80 {
            defer { position += 1 }
            return UInt64(bytes[position])
        }
        return try longVarint(at: &position)
    }

    /// ``varint(at:)`` with the numbers of up to three bytes (below 2^21: most counts and
    /// indices) read in line, for the hot loops.
    @inline(__always) func shortVarint(at position: inout Int) throws -> UInt64 {
        if bytes.count - position >= 3, let base = bytes.baseAddress {
            let first = UInt64(base.load(fromByteOffset: position, as: UInt8.self))
            if first < 0x80 {
                position &+= 1
                return first
            }
            let second = UInt64(base.load(fromByteOffset: position &+ 1, as: UInt8.self))
            if second < 0x80 {
                position &+= 2
                return (first & 0x7F) | second &<< 7
            }
            let third = UInt64(base.load(fromByteOffset: position &+ 2, as: UInt8.self))
            if third < 0x80 {
                position &+= 3
                return (first & 0x7F) | (second & 0x7F) &<< 7 | third &<< 14
            }
        }
        return try varint(at: &position)
    }

    private func longVarint(at position: inout Int) throws -> UInt64 {
        if bytes.count - position >= 10 {
            // Room for the longest number: no bounds test a byte, and shifts that cannot
            // overshoot (at most 63).
            let base = bytes.baseAddress.unsafelyUnwrapped + position
            var result: UInt64 = 0
            var shift: UInt64 = 0
            var index = 0
            while index < 10 {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                result |= UInt64(byte & 0x7F) &<< shift
                if byte < 0x80 {
                    position += index &+ 1
                    return result
                }
                shift &+= 7
                index &+= 1
            }
            throw corrupted("number longer than 64 bits, at byte \(position)", codingPath: [])
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw corrupted("input ends inside a number, at byte \(position)", codingPath: []) }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw corrupted("number longer than 64 bits, at byte \(position - 1)", codingPath: []) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// Moves `position` past a varint without working out its value (what skipping a
    /// field costs); throws as ``varint(at:)`` would.
    @inline(__always) func skipVarint(at position: inout Int) throws {
        if let base = bytes.baseAddress {
            let end = Swift.min(bytes.count, position &+ 10)
            var cursor = position
            while cursor < end {
                let byte = base.load(fromByteOffset: cursor, as: UInt8.self)
                cursor &+= 1
                if byte < 0x80 {
                    position = cursor
                    return
                }
            }
        }
        // Truncated or too long: the reading path names the error.
        _ = try longVarint(at: &position)
    }

    /// A length followed by that many bytes; returns the range of the bytes.
    func lengthPrefixed(at position: inout Int) throws -> Range<Int> {
        let lengthAt = position
        let length = try varint(at: &position)
        guard length <= UInt64(bytes.count - position) else {
            throw corrupted("length \(length) at byte \(lengthAt) runs past the end of the input (\(bytes.count) bytes)", codingPath: [])
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    func string(_ range: Range<Int>, codingPath: @autoclosure () -> [any CodingKey]) throws -> String {
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw corrupted("invalid UTF-8 in the string at byte \(range.lowerBound)", codingPath: codingPath())
        }
        return text
    }

    /// Moves `position` past one value of any kind.
    @inline(__always) func skip(at position: inout Int, depth: Int) throws {
        // The scalars most fields hold, without the call and the depth test.
        if position < bytes.count {
            switch bytes[position] {
            case BinaryFormat.null, BinaryFormat.false, BinaryFormat.true:
                position += 1
                return
            case BinaryFormat.signed, BinaryFormat.unsigned:
                position += 1
                try skipVarint(at: &position)
                return
            default: break
            }
        }
        try skipAny(at: &position, depth: depth)
    }

    private func skipAny(at position: inout Int, depth: Int) throws {
        guard depth < BinaryFormat.maximumDepth else { throw corrupted("values nested deeper than \(BinaryFormat.maximumDepth), at byte \(position)", codingPath: []) }
        let tag = try self.tag(at: position, codingPath: [])
        position += 1
        switch tag {
        case BinaryFormat.null, BinaryFormat.false, BinaryFormat.true: break
        case BinaryFormat.signed, BinaryFormat.unsigned: _ = try varint(at: &position)
        case BinaryFormat.float, BinaryFormat.double:
            let size = tag == BinaryFormat.float ? 4 : 8
            guard bytes.count - position >= size else { throw corrupted("input ends inside a number, at byte \(position)", codingPath: []) }
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
        var cursor = position
        return try readInteger(type, at: &cursor, codingPath: codingPath())
    }

    /// An integer at `position`, moving past it.
    @inline(__always) func readInteger<T: FixedWidthInteger>(_ type: T.Type, at position: inout Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> T {
        let start = position
        var cursor = position + 1
        let value: T?
        switch try tag(at: start, codingPath: codingPath()) {
        case BinaryFormat.signed:
            let raw = try shortVarint(at: &cursor)
            value = T(exactly: Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case BinaryFormat.unsigned:
            value = T(exactly: try shortVarint(at: &cursor))
        default: throw mismatch(type, at: start, codingPath: codingPath())
        }
        guard let value else { throw corrupted("number at byte \(start) out of range for \(T.self)", codingPath: codingPath()) }
        position = cursor
        return value
    }

    func decodeDouble(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Double {
        var cursor = position
        return try readDouble(at: &cursor, codingPath: codingPath())
    }

    /// A floating-point number (or an integer, as a `Double`) at `position`, moving past it.
    func readDouble(at position: inout Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Double {
        let start = position
        let tag = try self.tag(at: start, codingPath: codingPath())
        switch tag {
        case BinaryFormat.double:
            guard bytes.count - start >= 9 else { throw corrupted("input ends inside the number at byte \(start)", codingPath: codingPath()) }
            position = start + 9
            return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 1, as: UInt64.self)))
        case BinaryFormat.float:
            guard bytes.count - start >= 5 else { throw corrupted("input ends inside the number at byte \(start)", codingPath: codingPath()) }
            position = start + 5
            return Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 1, as: UInt32.self))))
        case BinaryFormat.signed: return Double(try readInteger(Int64.self, at: &position, codingPath: codingPath()))
        case BinaryFormat.unsigned: return Double(try readInteger(UInt64.self, at: &position, codingPath: codingPath()))
        default: throw mismatch(Double.self, at: start, codingPath: codingPath())
        }
    }

    func decodeBool(at position: inout Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Bool {
        let value = try decodeBool(at: position, codingPath: codingPath())
        position += 1
        return value
    }

    func decodeString(at position: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> String {
        var cursor = position
        return try readString(at: &cursor, codingPath: codingPath())
    }

    /// A string at `position`, moving past it.
    func readString(at position: inout Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> String {
        guard try tag(at: position, codingPath: codingPath()) == BinaryFormat.string else {
            throw mismatch(String.self, at: position, codingPath: codingPath())
        }
        position += 1
        return try string(try lengthPrefixed(at: &position), codingPath: codingPath())
    }

    /// Decodes a `T` at `position` (its containers are `depth`). `path` is its coding path
    /// when it is not the stack's (values under a nested container or a super decoder).
    func decode<T: Decodable>(_ type: T.Type, at position: Int, depth: Int, path: [any CodingKey]? = nil) throws -> T {
        guard depth < BinaryFormat.maximumDepth else {
            throw corrupted("values nested deeper than \(BinaryFormat.maximumDepth), at byte \(position)", codingPath: path ?? codingPath(below: depth))
        }
        if ObjectIdentifier(T.self) != lastCompositeType {
            if BinaryReader.isCommon(type) {
                var cursor = position
                return try readCommon(type, at: &cursor, depth: depth, path: path)
            }
            lastCompositeType = ObjectIdentifier(T.self)
        }
        return try T(from: BinaryReaderDecoder(reader: self, position: position, depth: depth, path: path))
    }

    /// Decodes the `T` at `position` and moves past it: one pass for the scalars and arrays
    /// of scalars ``readCommon(_:at:depth:path:)`` reads, a check of the value's extent and
    /// then its decoding for the rest. How a chunk's values are read one after another.
    func decodeNext<T: Decodable>(_ type: T.Type, at position: inout Int) throws -> T {
        if ObjectIdentifier(T.self) != lastCompositeType {
            if BinaryReader.isCommon(type) { return try readCommon(type, at: &position, depth: 0, path: []) }
            lastCompositeType = ObjectIdentifier(T.self)
        }
        let start = position
        let value = try T(from: BinaryReaderDecoder(reader: self, position: start, depth: 0, path: nil))
        // A top-level keyed container has walked (and so checked) its whole map already.
        if topMap.start == start, topMap.end > start {
            position = topMap.end
        } else {
            try skip(at: &position, depth: 0)
        }
        return value
    }

    /// The extent of the last map a keyed container at depth 0 loaded.
    @exclusivity(unchecked) var topMap = (start: -1, end: -1)

    /// Decodes `count` values one after another into `buffer` (uninitialized memory), as a
    /// chunk's outputs are read: a tight loop for `Int` and `Double`, ``decodeNext(_:at:)``
    /// for the rest. `initialized` counts the values in place should it throw.
    func decodeRun<T: Decodable>(_ type: T.Type, count: Int, into buffer: UnsafeMutablePointer<T>, at position: inout Int, initialized: inout Int) throws {
        if T.self == Int.self {
            // Trivial values: nothing to clean up if it throws half-way.
            let values = UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: Int.self)
            var index = readShortIntegers(into: values, count: count, at: &position)
            while index < count {
                values[index] = try readInteger(Int.self, at: &position, codingPath: [])
                index += 1
            }
            initialized = count
            return
        }
        if T.self == Double.self {
            let values = UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: Double.self)
            for index in 0..<count { values[index] = try readDouble(at: &position, codingPath: []) }
            initialized = count
            return
        }
        for index in 0..<count {
            (buffer + index).initialize(to: try decodeNext(type, at: &position))
            initialized = index + 1
        }
    }

    /// Reads signed integers of up to three varint bytes (below 2^20 in magnitude: a
    /// chunk's counts, indices and small results) into `values`, from locals rather than
    /// the reader's properties, and stops at the first other value (or `count`, or 4 bytes
    /// from the end), which ``readInteger(_:at:codingPath:)`` then reads and checks.
    /// Returns how many it read.
    private func readShortIntegers(into values: UnsafeMutablePointer<Int>, count: Int, at position: inout Int) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let end = bytes.count &- 4
        var cursor = position
        var index = 0
        while index < count && cursor <= end && base.load(fromByteOffset: cursor, as: UInt8.self) == BinaryFormat.signed {
            var raw = UInt64(base.load(fromByteOffset: cursor &+ 1, as: UInt8.self))
            if raw < 0x80 {
                cursor &+= 2
            } else {
                let second = UInt64(base.load(fromByteOffset: cursor &+ 2, as: UInt8.self))
                if second < 0x80 {
                    raw = (raw & 0x7F) | second &<< 7
                    cursor &+= 3
                } else {
                    let third = UInt64(base.load(fromByteOffset: cursor &+ 3, as: UInt8.self))
                    guard third < 0x80 else { break }
                    raw = (raw & 0x7F) | (second & 0x7F) &<< 7 | third &<< 14
                    cursor &+= 4
                }
            }
            values[index] = Int(truncatingIfNeeded: Int64(bitPattern: (raw &>> 1) ^ (0 &- (raw & 1))))
            index &+= 1
        }
        position = cursor
        return index
    }

    /// Whether ``readCommon(_:at:depth:path:)`` reads `T`. (A separate test, not an
    /// optional result: `Optional<T>` in this unspecialized code is a runtime metadata
    /// lookup a value.)
    @inline(__always) static func isCommon<T>(_ type: T.Type) -> Bool {
        T.self == Int.self || T.self == Double.self || T.self == Bool.self || T.self == String.self
            || T.self == Int64.self || T.self == Int32.self || T.self == UInt64.self || T.self == UInt.self
            || T.self == [UInt8].self || T.self == [Int].self || T.self == [Double].self || T.self == [String].self
            || T.self == [Bool].self || T.self == [Int64].self || T.self == [UInt64].self
    }

    /// Reads the scalars and arrays of scalars that are most of what tasks carry straight
    /// from the bytes, with no `Decoder` and no container, moving past them: only for a
    /// type ``isCommon(_:)`` accepts. Accepts exactly what their `init(from:)` would.
    private func readCommon<T: Decodable>(_ type: T.Type, at position: inout Int, depth: Int, path: [any CodingKey]?) throws -> T {
        if T.self == Int.self { return unsafeBitCast(try readInteger(Int.self, at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try readDouble(at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try decodeBool(at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == String.self { return unsafeBitCast(try readString(at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try readInteger(Int64.self, at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == Int32.self { return unsafeBitCast(try readInteger(Int32.self, at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try readInteger(UInt64.self, at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        if T.self == UInt.self { return unsafeBitCast(try readInteger(UInt.self, at: &position, codingPath: path ?? codingPath(below: depth)), to: T.self) }
        return try readCommonArray(type, at: &position, depth: depth, path: path)
    }

    private func readCommonArray<T: Decodable>(_ type: T.Type, at position: inout Int, depth: Int, path: [any CodingKey]?) throws -> T {
        if T.self == [UInt8].self {
            guard try tag(at: position, codingPath: path ?? codingPath(below: depth)) == BinaryFormat.bytes else {
                throw mismatch(type, at: position, codingPath: path ?? codingPath(below: depth))
            }
            position += 1
            let range = try lengthPrefixed(at: &position)
            return unsafeBitCast([UInt8](bytes[range]), to: T.self)
        }
        if T.self == [Int].self { return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.readInteger(Int.self, at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self) }
        if T.self == [Double].self { return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.readDouble(at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self) }
        if T.self == [String].self { return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.readString(at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self) }
        if T.self == [Bool].self { return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.decodeBool(at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self) }
        if T.self == [Int64].self { return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.readInteger(Int64.self, at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self) }
        precondition(T.self == [UInt64].self, "readCommon of a type isCommon refuses")
        return unsafeBitCast(try readArray(at: &position, depth: depth, path: path) { try self.readInteger(UInt64.self, at: &$0, codingPath: path ?? self.codingPath(below: depth)) }, to: T.self)
    }

    /// An array at `position` whose elements `readElement` reads, moving past it.
    @inline(__always) private func readArray<Element>(at position: inout Int, depth: Int, path: [any CodingKey]?, _ readElement: (inout Int) throws -> Element) throws -> [Element] {
        guard try tag(at: position, codingPath: path ?? codingPath(below: depth)) == BinaryFormat.array else {
            throw mismatch([Element].self, at: position, codingPath: path ?? codingPath(below: depth))
        }
        var cursor = position + 1
        var elements: [Element] = []
        while try tag(at: cursor, codingPath: path ?? codingPath(below: depth)) != BinaryFormat.end {
            elements.append(try readElement(&cursor))
        }
        position = cursor + 1
        return elements
    }

    func mismatch(_ type: Any.Type, at position: Int, codingPath: @autoclosure () -> [any CodingKey]) -> DecodingError {
        let found = position < bytes.count ? "\(BinaryReader.tagName(bytes[position])) at byte \(position)" : "the end of the input at byte \(position)"
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

    // MARK: Path and reuse

    /// Decodes `T` under `key` of a keyed container at `depth`, whose own path is the
    /// stack's when `path` is nil.
    @inline(__always) func decode<T: Decodable>(_ type: T.Type, at position: Int, forKey key: some CodingKey, depth: Int, path: [any CodingKey]?) throws -> T {
        if let path { return try decode(type, at: position, depth: depth + 1, path: path + [key]) }
        keys.append(PathKey(depth: depth, key: key))
        defer { keys.removeLast() }
        return try decode(type, at: position, depth: depth + 1)
    }

    /// The keyed container of `Key` at `depth`, loaded with the entries of the map at
    /// `position`: made once per reader, reloaded for each value after that. Only for a
    /// decoder whose path is the stack's: at most one such value is being decoded at each
    /// depth (every nested value is one deeper), so one container a key type and depth
    /// serves them all in turn.
    func keyedContainer<Key: CodingKey>(_ type: Key.Type, at position: Int, depth: Int) throws -> KeyedDecodingContainer<Key> {
        if let slot = keyedContainers.slot(ObjectIdentifier(type), depth: depth) {
            try slot._withUnsafeGuaranteedRef { try $0.load(at: position) }
            // Same key type, so the same generic class: no runtime check needed.
            return slot._withUnsafeGuaranteedRef { unsafeDowncast($0, to: CachedKeyedContainer<KeyedDecodingContainer<Key>>.self).copy() }
        }
        return try makeKeyedContainer(type, at: position, depth: depth)
    }

    /// Makes and caches the keyed container of `Key` at `depth`, loaded from `position`.
    /// Kept apart so that the metadata it needs is not looked up on the way to a cached one.
    @inline(never) private func makeKeyedContainer<Key: CodingKey>(_ type: Key.Type, at position: Int, depth: Int) throws -> KeyedDecodingContainer<Key> {
        let state = KeyedDecodingState(reader: self, depth: depth, path: nil)
        try state.load(at: position)
        let container = KeyedDecodingContainer(BinaryKeyedDecoding<Key>(state: state))
        keyedContainers.insert(CachedKeyedContainer(container, state: state), keyType: ObjectIdentifier(type), depth: depth)
        return container
    }
}

struct BinaryReaderDecoder: Decoder {
    let reader: BinaryReader
    /// The position (low 48 bits) and the depth (above): with the reader and the optional
    /// path, three words, so that passing it as `any Decoder` fits the existential's
    /// inline buffer (no box a value).
    private let location: Int
    /// The coding path when it is not the reader's stack; nil marks a decoder whose keyed
    /// containers may be reused (``BinaryReader/keyedContainer(_:at:depth:)``).
    let path: [any CodingKey]?

    var position: Int { location & 0xFFFF_FFFF_FFFF }
    var depth: Int { location >> 48 }
    var codingPath: [any CodingKey] { path ?? reader.codingPath(below: depth) }

    init(reader: BinaryReader, position: Int, depth: Int, path: [any CodingKey]?) {
        // Frames are far below 2^48 bytes and depth below BinaryFormat.maximumDepth.
        precondition(position >= 0 && position < 1 << 48 && depth >= 0 && depth < 1 << 15)
        self.reader = reader
        self.location = depth << 48 | position
        self.path = path
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if path == nil { return try reader.keyedContainer(type, at: position, depth: depth) }
        let state = KeyedDecodingState(reader: reader, depth: depth, path: path)
        try state.load(at: position)
        return KeyedDecodingContainer(BinaryKeyedDecoding<Key>(state: state))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try BinaryUnkeyedDecoding(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BinarySingleValueDecoding(decoder: self)
    }

    /// The decoder of a nested container or a super decoder: its path is its own, since
    /// nobody says when it is done with it.
    func child(at position: Int, key: (any CodingKey)?) -> BinaryReaderDecoder {
        BinaryReaderDecoder(reader: reader, position: position, depth: depth + 1, path: key.map { codingPath + [$0] } ?? codingPath)
    }
}

/// The entries of one keyed container: reloaded for each value when the container is reused.
///
/// Its variables are unchecked: only its own methods touch them, never across a call out to
/// user code, and the dynamic check costs more than the lookup it guards.
final class KeyedDecodingState {
    let reader: BinaryReader
    let depth: Int
    let path: [any CodingKey]?
    /// Where the map starts.
    @exclusivity(unchecked) private(set) var position = 0
    /// Each entry's key bytes and where its value starts; looked up by comparing bytes, so
    /// no `String` is built per key. The first four live inline (most types have few
    /// fields: no array of their own); the rest in `more`.
    @exclusivity(unchecked) private var first = KeyedEntries()
    @exclusivity(unchecked) private var more: [KeyedEntry] = []
    /// The entry after the last one found: fields are usually read in the order they
    /// were written, so it is tried first.
    @exclusivity(unchecked) private var nextGuess = 0

    init(reader: BinaryReader, depth: Int, path: [any CodingKey]?) {
        self.reader = reader
        self.depth = depth
        self.path = path
    }

    var codingPath: [any CodingKey] { path ?? reader.codingPath(below: depth) }

    /// Reads the entries of the map at `position`.
    func load(at position: Int) throws {
        self.position = position
        first.removeAll()
        if !more.isEmpty { more.removeAll(keepingCapacity: true) }
        nextGuess = 0
        guard try reader.tag(at: position, codingPath: codingPath) == BinaryFormat.map else {
            throw reader.mismatch([String: Any].self, at: position, codingPath: codingPath)
        }
        var cursor = position + 1
        while try reader.tag(at: cursor, codingPath: codingPath) != BinaryFormat.end {
            let key = try reader.lengthPrefixed(at: &cursor)
            if !first.append(KeyedEntry(key: key, value: cursor)) { more.append(KeyedEntry(key: key, value: cursor)) }
            try reader.skip(at: &cursor, depth: depth + 1)
        }
        if depth == 0 { reader.topMap = (position, cursor + 1) }
    }

    var count: Int { first.count + more.count }

    @inline(__always) func entry(_ index: Int) -> KeyedEntry { index < 4 ? first[index] : more[index - 4] }

    /// Where the value of the key spelled `name` starts.
    func find(_ name: String) -> Int? {
        if let found = name.utf8.withContiguousStorageIfAvailable({ find($0) }) { return found }
        var name = name
        return name.withUTF8 { find($0) }
    }

    private func find(_ utf8: UnsafeBufferPointer<UInt8>) -> Int? {
        let count = self.count
        if nextGuess < count, matches(entry(nextGuess), utf8) {
            defer { nextGuess += 1 }
            return entry(nextGuess).value
        }
        var index = 0
        while index < count {
            if matches(entry(index), utf8) {
                nextGuess = index + 1
                return entry(index).value
            }
            index += 1
        }
        return nil
    }

    @inline(__always) private func matches(_ entry: KeyedEntry, _ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = utf8.count
        guard entry.key.count == count else { return false }
        guard count > 0 else { return true }
        let stored = reader.bytes.baseAddress.unsafelyUnwrapped + entry.key.lowerBound
        let wanted = utf8.baseAddress.unsafelyUnwrapped
        // Field names are short: a byte loop costs less than the call to memcmp.
        guard count <= 16 else { return memcmp(stored, wanted, count) == 0 }
        var index = 0
        while index < count {
            if stored.load(fromByteOffset: index, as: UInt8.self) != wanted[index] { return false }
            index &+= 1
        }
        return true
    }

    var keyNames: [String] {
        (0..<count).compactMap { try? reader.string(entry($0).key, codingPath: []) }
    }
}

/// Holds only its state, so one box serves every value of its key type at its depth.
struct BinaryKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: KeyedDecodingState
    var codingPath: [any CodingKey] { state.codingPath }
    var reader: BinaryReader { state.reader }

    init(state: KeyedDecodingState) { self.state = state }

    var allKeys: [Key] { state.keyNames.compactMap { Key(stringValue: $0) } }

    private func position(_ key: Key) throws -> Int {
        guard let position = state.find(key.stringValue) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for key '\(key.stringValue)' in the keyed container at byte \(state.position)"))
        }
        return position
    }

    func contains(_ key: Key) -> Bool { state.find(key.stringValue) != nil }

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
        let position = try position(key)
        // `self` holds the state, which holds the reader, for the whole call: no retain.
        return try Unmanaged.passUnretained(state.reader)._withUnsafeGuaranteedRef {
            try $0.decodeInteger(type, at: position, codingPath: codingPath + [key])
        }
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decode(type, at: try position(key), forKey: key, depth: state.depth, path: state.path)
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

    /// A decoder of the map itself, for its children (with a path of their own).
    private var decoder: BinaryReaderDecoder {
        BinaryReaderDecoder(reader: reader, position: state.position, depth: state.depth, path: codingPath)
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

    mutating func removeAll() { count = 0 }

    @inline(__always) subscript(index: Int) -> KeyedEntry {
        switch index {
        case 0: return storage.0
        case 1: return storage.1
        case 2: return storage.2
        default: return storage.3
        }
    }
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
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "unkeyed container at byte \(decoder.position) is at its end (\(currentIndex) elements)"))
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
        // Elements add no key to the path, so they share this container's.
        try reader.decode(type, at: try next(type), depth: decoder.depth + 1, path: decoder.path)
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
        // A single value adds no key, and no depth of its own beyond the wrapper's.
        try reader.decode(type, at: position, depth: decoder.depth + 1, path: decoder.path)
    }
}
