import Testing
import Weave
@testable import WeaveProcess

/// The coders reuse encoders and keyed containers from value to value (one per key type and
/// depth) and write common scalars and arrays of them directly: what they write and read
/// must be exactly what a fresh, generic pass would, however values nest and repeat.
@Suite("Binary coder reuse and fast paths")
struct BinaryCoderReuseTests {
    /// A recursive type: the same key type at many depths at once.
    struct Tree: Codable, Equatable {
        var label: String
        var children: [Tree]
        var weight: Double?
    }

    enum Event: Codable, Equatable {
        case started(id: Int, at: Double)
        case renamed(from: String, to: String)
        case tagged([String: [Int]])
        case cleared
    }

    struct Pair: Codable, Equatable {
        var left: Event
        var right: Event?
    }

    /// Two nested containers of one key type read at once, and a super decoder: the
    /// containers a decoder cannot reuse.
    struct TwoNested: Codable, Equatable {
        var a: Int, b: Int, c: String
        enum Keys: String, CodingKey { case first, second, base }
        enum Inner: String, CodingKey { case value, text }
        init(a: Int, b: Int, c: String) { self.a = a; self.b = b; self.c = c }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            // The encoder streams: one nested container is finished before the next opens.
            var first = container.nestedContainer(keyedBy: Inner.self, forKey: .first)
            try first.encode(a, forKey: .value)
            try first.encode(c, forKey: .text)
            var second = container.nestedContainer(keyedBy: Inner.self, forKey: .second)
            try second.encode(b, forKey: .value)
            try c.encode(to: container.superEncoder(forKey: .base))
        }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            let first = try container.nestedContainer(keyedBy: Inner.self, forKey: .first)
            let second = try container.nestedContainer(keyedBy: Inner.self, forKey: .second)
            b = try second.decode(Int.self, forKey: .value)
            a = try first.decode(Int.self, forKey: .value)
            c = try String(from: container.superDecoder(forKey: .base))
            #expect(try first.decode(String.self, forKey: .text) == c)
        }
    }

    /// Records the coding path its decoder and encoder report.
    struct PathProbe: Codable, Equatable {
        var seen: String
        init(seen: String) { self.seen = seen }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(encoder.codingPath.map(\.stringValue).joined(separator: "."))
        }
        init(from decoder: any Decoder) throws {
            let stored = try decoder.singleValueContainer().decode(String.self)
            let path = decoder.codingPath.map(\.stringValue).joined(separator: ".")
            guard stored == path else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "encoded at \(stored), decoded at \(path)"))
            }
            seen = path
        }
    }

    struct Probes: Codable, Equatable {
        var outer: PathProbe
        var nested: Nested
        var list: [PathProbe]
        struct Nested: Codable, Equatable { var inner: PathProbe }
    }

    static func tree(_ depth: Int, _ label: String) -> Tree {
        Tree(label: label, children: depth == 0 ? [] : (0..<2).map { tree(depth - 1, "\(label)\($0)") }, weight: depth % 2 == 0 ? Double(depth) : nil)
    }

    static func roundTrip<T: Codable & Equatable>(_ value: T) throws {
        let bytes = try BinaryEncoder().encode(value)
        #expect(try BinaryDecoder().decode(T.self, from: bytes) == value)
        // A run of values, as a chunk travels: reused containers, the same bytes.
        var run: [UInt8] = []
        try BinaryEncoder().encode(contentsOf: [value, value, value], appendingTo: &run)
        #expect(run == bytes + bytes + bytes)
        let decoded = try run.withUnsafeBytes { raw in
            try BinaryReader.reading(raw) { reader in
                var position = 0
                var values: [T] = []
                while position < raw.count { values.append(try reader.decodeNext(T.self, at: &position)) }
                return values
            }
        }
        #expect(decoded == [value, value, value])
    }

    @Test("recursive types, enums with associated values, optionals and dictionaries round-trip, alone and in runs")
    func nestedRoundTrips() throws {
        try Self.roundTrip(Self.tree(5, "r"))
        try Self.roundTrip(Pair(left: .started(id: -7, at: 1.25), right: .renamed(from: "a", to: "ß")))
        try Self.roundTrip(Pair(left: .tagged(["x": [1, 2], "": []]), right: nil))
        try Self.roundTrip(Pair(left: .cleared, right: .cleared))
        try Self.roundTrip([Pair(left: .cleared, right: nil), Pair(left: .started(id: 1, at: 0), right: .tagged([:]))])
        try Self.roundTrip(TwoNested(a: 1, b: 2, c: "three"))
        try Self.roundTrip([TwoNested(a: 4, b: 5, c: ""), TwoNested(a: .max, b: .min, c: "z")])
    }

    @Test("scalars and arrays of scalars: the direct path writes what their own encode(to:) writes")
    func fastPathsMatchGeneric() throws {
        // Wrapped in an Optional, each value takes the generic route (Optional is not a
        // fast-path type, its wrapped value goes through a single-value container).
        func check<T: Codable & Equatable>(_ value: T) throws {
            let direct = try BinaryEncoder().encode(value)
            let generic = try BinaryEncoder().encode(Optional(value))
            #expect(direct == generic, "\(T.self)")
            #expect(try BinaryDecoder().decode(T.self, from: generic) == value)
            #expect(try BinaryDecoder().decode(T?.self, from: direct) == value)
        }
        for value in [0, 1, -1, 63, 64, -65, 127, 128, 300, -70_000, .max, .min] { try check(value) }
        for value in [Int64.max, .min, 0] { try check(value) }
        for value in [Int32.max, .min] { try check(value) }
        for value in [UInt64.max, 0, 128] { try check(value) }
        for value in [UInt.max, 0] { try check(value) }
        for value in [0.0, -2.5, .infinity, .greatestFiniteMagnitude] { try check(value) }
        try check(Float(-2.25))
        try check(true)
        try check(false)
        for value in ["", "a", "héllo wörld", String(repeating: "long ", count: 1000)] { try check(value) }
        try check([Int]())
        try check((0..<1000).map { $0 * 7919 - 3_000_000 })
        try check([1.5, -0.0])
        try check(["", "x", "ÿ"])
        try check([true, false, true])
        try check([Int64.min, 0, .max])
        try check([UInt64.max, 1])
        try check([UInt8](repeating: 0xAB, count: 100_000))
        try check([UInt8]())
        // Arrays of scalars nested in keyed containers read back too.
        try Self.roundTrip(Tree(label: String(repeating: "é", count: 70_000), children: [], weight: 0))
    }

    @Test("the coding path is right at every depth, through reused containers")
    func codingPaths() throws {
        let value = Probes(outer: .init(seen: "outer"), nested: .init(inner: .init(seen: "nested.inner")), list: [.init(seen: "list"), .init(seen: "list")])
        let bytes = try BinaryEncoder().encode(value)
        let decoded = try BinaryDecoder().decode(Probes.self, from: bytes)
        #expect(decoded.outer.seen == "outer")
        #expect(decoded.nested.inner.seen == "nested.inner")
        #expect(decoded.list.map(\.seen) == ["list", "list"])
        // Twice in one run: the second value sees the same paths, not the first's leftovers.
        try Self.roundTrip(value)
    }

    @Test("bad input is a typed error naming the type or the offset: wrong types, truncation, garbage")
    func typedErrors() throws {
        do {
            _ = try BinaryDecoder().decode([Int].self, from: BinaryEncoder().encode(["x"]))
            Issue.record("decoded a string as an Int")
        } catch let DecodingError.typeMismatch(type, context) {
            #expect(ObjectIdentifier(type) == ObjectIdentifier(Int.self))
            #expect(context.debugDescription.contains("at byte 1"))
        }
        do {
            _ = try BinaryDecoder().decode(Pair.self, from: BinaryEncoder().encode(Tree(label: "a", children: [], weight: nil)))
            Issue.record("decoded a Tree as a Pair")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "left")
        }
        let value = [Pair(left: .tagged(["k": [1, 300]]), right: .started(id: 9, at: 2))]
        let bytes = try BinaryEncoder().encode(value)
        for length in 0..<bytes.count {
            #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Pair].self, from: Array(bytes[..<length])) }
        }
        // Every single-byte corruption decodes to something or throws; none crashes.
        for index in bytes.indices {
            for replacement: UInt8 in [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xFF] {
                var corrupt = bytes
                corrupt[index] = replacement
                _ = try? BinaryDecoder().decode([Pair].self, from: corrupt)
                _ = try? BinaryDecoder().decode([Int].self, from: corrupt)
            }
        }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Int].self, from: [BinaryFormat.array, BinaryFormat.signed, 0x80]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([UInt8].self, from: [BinaryFormat.bytes, 0x05, 1, 2]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Double].self, from: [BinaryFormat.array, BinaryFormat.double, 0, 0]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: [BinaryFormat.signed, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([String].self, from: [BinaryFormat.array, BinaryFormat.string, 0x02, 0xC3, 0x28, BinaryFormat.end]) }
    }
}
