import Testing
import Weave
@testable import WeaveProcess

/// The binary coders keep one keyed container per key type and depth and hand the same one
/// out for every later value (``KeyedContainerCache``), and encode a chunk's values with one
/// encoder: whatever the nesting, the order of requests or the passes a coder has done,
/// the bytes must be those a fresh encoder writes and must decode back to the same values,
/// and bad input must still give typed errors with the right coding path.
@Suite("Keyed container cache")
struct KeyedContainerCacheTests {
    // Three key types nested three deep, and one of them again one level further down.
    struct Leaf: Codable, Equatable { var value: Int; var note: String? }
    struct Middle: Codable, Equatable { var leaf: Leaf; var count: Int; var spare: Leaf? }
    struct Top: Codable, Equatable { var middle: Middle; var leaf: Leaf; var name: String }

    /// Two types that share one key type: their containers are the same cache slot.
    enum SharedKeys: String, CodingKey { case value, text }
    struct SharingA: Codable, Equatable {
        var value: Int
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: SharedKeys.self)
            try container.encode(value, forKey: .value)
        }
        init(value: Int) { self.value = value }
        init(from decoder: any Decoder) throws {
            value = try decoder.container(keyedBy: SharedKeys.self).decode(Int.self, forKey: .value)
        }
    }
    struct SharingB: Codable, Equatable {
        var text: String
        var inner: SharingA
        enum Keys: String, CodingKey { case text, inner }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(text, forKey: .text)
            try container.encode(inner, forKey: .inner)
        }
        init(text: String, inner: SharingA) { self.text = text; self.inner = inner }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            text = try container.decode(String.self, forKey: .text)
            inner = try container.decode(SharingA.self, forKey: .inner)
        }
    }

    /// Asks for the same key type twice at one depth (two requests of its own container,
    /// as class hierarchies do), once more through a nested container and once through a
    /// super encoder, both one level down, and reads them back in another order.
    struct Repeats: Codable, Equatable {
        var first: Int, second: String, nested: Int, base: Int
        enum Keys: String, CodingKey { case first, second, nested, base, value }
        init(first: Int, second: String, nested: Int, base: Int) {
            self.first = first; self.second = second; self.nested = nested; self.base = base
        }
        func encode(to encoder: any Encoder) throws {
            var one = encoder.container(keyedBy: Keys.self)
            try one.encode(first, forKey: .first)
            var two = encoder.container(keyedBy: Keys.self)
            try two.encode(second, forKey: .second)
            var inner = two.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try inner.encode(nested, forKey: .value)
            var viaSuper = two.superEncoder(forKey: .base).container(keyedBy: Keys.self)
            try viaSuper.encode(base, forKey: .value)
        }
        init(from decoder: any Decoder) throws {
            let one = try decoder.container(keyedBy: Keys.self)
            base = try one.superDecoder(forKey: .base).container(keyedBy: Keys.self).decode(Int.self, forKey: .value)
            let two = try decoder.container(keyedBy: Keys.self)
            nested = try two.nestedContainer(keyedBy: Keys.self, forKey: .nested).decode(Int.self, forKey: .value)
            second = try two.decode(String.self, forKey: .second)
            first = try one.decode(Int.self, forKey: .first)
        }
    }

    /// A subclass and its base write into one container with two key types at one depth.
    class Base: Codable, Equatable {
        var id: Int
        enum BaseKeys: String, CodingKey { case id }
        init(id: Int) { self.id = id }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: BaseKeys.self)
            try container.encode(id, forKey: .id)
        }
        required init(from decoder: any Decoder) throws {
            id = try decoder.container(keyedBy: BaseKeys.self).decode(Int.self, forKey: .id)
        }
        static func == (left: Base, right: Base) -> Bool {
            left.id == right.id && (left as? Derived)?.label == (right as? Derived)?.label
        }
    }
    final class Derived: Base {
        var label: String
        enum DerivedKeys: String, CodingKey { case label }
        init(id: Int, label: String) { self.label = label; super.init(id: id) }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: DerivedKeys.self)
            try container.encode(label, forKey: .label)
            try super.encode(to: encoder)
        }
        required init(from decoder: any Decoder) throws {
            label = try decoder.container(keyedBy: DerivedKeys.self).decode(String.self, forKey: .label)
            try super.init(from: decoder)
        }
    }

    /// Encodes nothing at all: a run of them is a run of nils.
    struct Empty: Codable, Equatable {
        init() {}
        func encode(to encoder: any Encoder) throws {}
        init(from decoder: any Decoder) throws {}
    }

    static func top(_ index: Int) -> Top {
        Top(middle: Middle(leaf: Leaf(value: index, note: index % 2 == 0 ? nil : "n\(index)"), count: -index,
                           spare: index % 3 == 0 ? Leaf(value: index * 1000, note: "s") : nil),
            leaf: Leaf(value: -index * 70_000, note: "top"), name: "value \(index)")
    }

    /// Each value encoded by a fresh encoder, one after another: what a run must equal.
    static func oneByOne<T: Encodable>(_ values: [T]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for value in values { bytes += try BinaryEncoder().encode(value) }
        return bytes
    }

    /// Encodes `values` as a chunk with `coders` (so caches from earlier passes are used),
    /// checks the bytes, and decodes them back with the same coders, as a worker does.
    static func chunkRoundTrip<T: Codable & Equatable>(_ values: [T], _ coders: BinaryCoders, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        var bytes: [UInt8] = []
        try coders.appending(to: &bytes) { try $0.encodeValues(values) }
        #expect(bytes == (try oneByOne(values)), sourceLocation: sourceLocation)
        let decoded = try bytes.withUnsafeBytes { raw in
            try coders.reading(raw) { reader in
                var position = 0
                var result: [T] = []
                while position < raw.count { result.append(try reader.decodeNext(T.self, at: &position)) }
                return result
            }
        }
        #expect(decoded == values, sourceLocation: sourceLocation)
    }

    @Test("nested keyed containers of different key types at several depths, over many passes of one coder")
    func nestedKeyTypesAcrossPasses() throws {
        let coders = BinaryCoders()
        for pass in 0..<4 {
            try Self.chunkRoundTrip((0..<65).map { Self.top($0 + pass) }, coders)
            // Between them, the same key types at other depths (a Leaf alone is depth 0).
            try Self.chunkRoundTrip((0..<10).map { Leaf(value: $0, note: "\(pass)") }, coders)
            try Self.chunkRoundTrip([Middle(leaf: Leaf(value: pass, note: nil), count: 1, spare: nil)], coders)
        }
        // And alone, through the public coders.
        let value = Self.top(7)
        #expect(try BinaryDecoder().decode(Top.self, from: BinaryEncoder().encode(value)) == value)
    }

    @Test("one key type shared by two types, in turn and nested: one cached container serves both")
    func sharedKeyTypes() throws {
        let coders = BinaryCoders()
        let values = (0..<20).map { SharingB(text: "b\($0)", inner: SharingA(value: $0)) }
        try Self.chunkRoundTrip(values, coders)
        try Self.chunkRoundTrip((0..<20).map { SharingA(value: -$0) }, coders)
        try Self.chunkRoundTrip(values, coders)
    }

    @Test("the same key type asked for twice at one depth, and again through nested and super encoders")
    func repeatedRequests() throws {
        let coders = BinaryCoders()
        let values = (0..<30).map { Repeats(first: $0, second: "s\($0)", nested: $0 * 3, base: -$0) }
        try Self.chunkRoundTrip(values, coders)
        try Self.chunkRoundTrip(values.reversed(), coders)
        // Two key types in one container at one depth, a class hierarchy's way.
        let objects: [Base] = (0..<10).map { $0 % 2 == 0 ? Derived(id: $0, label: "d\($0)") : Base(id: $0) }
        var bytes: [UInt8] = []
        try coders.appending(to: &bytes) { try $0.encodeValues(objects) }
        #expect(bytes == (try Self.oneByOne(objects)))
        let derived = try BinaryDecoder().decode(Derived.self, from: BinaryEncoder().encode(Derived(id: 4, label: "x")))
        #expect(derived.id == 4 && derived.label == "x")
    }

    @Test("a run of values that encode nothing, and a value that throws half-way, leave the coder usable")
    func emptyAndFailingValues() throws {
        let coders = BinaryCoders()
        var bytes: [UInt8] = []
        try coders.appending(to: &bytes) { try $0.encodeValues([Empty(), Empty(), Empty()]) }
        #expect(bytes == [BinaryFormat.null, BinaryFormat.null, BinaryFormat.null])

        struct Boom: Error {}
        struct Throws: Encodable {
            var fail: Bool
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: SharedKeys.self)
                try container.encode(1, forKey: .value)
                if fail { throw Boom() }
            }
        }
        var discarded: [UInt8] = []
        #expect(throws: Boom.self) {
            try coders.appending(to: &discarded) { try $0.encodeValues([Throws(fail: false), Throws(fail: true), Throws(fail: false)]) }
        }
        #expect(discarded.isEmpty)
        try Self.chunkRoundTrip((0..<5).map { SharingA(value: $0) }, coders)
        try Self.chunkRoundTrip((0..<5).map { Self.top($0) }, coders)
    }

    @Test("decoding errors through cached containers are typed and carry the coding path; the coder goes on")
    func typedErrorsWithPaths() throws {
        let coders = BinaryCoders()
        try Self.chunkRoundTrip((0..<3).map { Self.top($0) }, coders)  // warm every slot

        // The third value's middle.leaf.value is a string: a type mismatch at that path.
        struct BadLeaf: Encodable { var value: String; var note: String? }
        struct BadMiddle: Encodable { var leaf: BadLeaf; var count: Int }
        struct BadTop: Encodable { var middle: BadMiddle; var leaf: Leaf; var name: String }
        var bytes: [UInt8] = []
        try BinaryEncoder().encode(contentsOf: [Self.top(1), Self.top(2)], appendingTo: &bytes)
        try BinaryEncoder().encode(BadTop(middle: BadMiddle(leaf: BadLeaf(value: "x", note: nil), count: 0), leaf: Leaf(value: 1, note: nil), name: "bad"), appendingTo: &bytes)
        func decodeAll(_ bytes: [UInt8]) throws -> [Top] {
            try bytes.withUnsafeBytes { raw in
                try coders.reading(raw) { reader in
                    var position = 0
                    var result: [Top] = []
                    while position < raw.count { result.append(try reader.decodeNext(Top.self, at: &position)) }
                    return result
                }
            }
        }
        do {
            _ = try decodeAll(bytes)
            Issue.record("decoded a string as an Int")
        } catch let DecodingError.typeMismatch(type, context) {
            #expect(ObjectIdentifier(type) == ObjectIdentifier(Int.self))
            #expect(context.codingPath.map(\.stringValue) == ["middle", "leaf", "value"])
        }

        // A missing key two levels down: keyNotFound, with the path of its container.
        struct NoCount: Encodable { var leaf: Leaf }
        struct TopNoCount: Encodable { var middle: NoCount; var leaf: Leaf; var name: String }
        let missing = try BinaryEncoder().encode(TopNoCount(middle: NoCount(leaf: Leaf(value: 1, note: nil)), leaf: Leaf(value: 2, note: nil), name: "m"))
        do {
            _ = try decodeAll(missing)
            Issue.record("decoded a Middle without its count")
        } catch let DecodingError.keyNotFound(key, context) {
            #expect(key.stringValue == "count")
            #expect(context.codingPath.map(\.stringValue) == ["middle"])
        }

        // Not a keyed container where one is expected, at depth 1.
        struct TopWithArray: Encodable { var middle: [Int]; var leaf: Leaf; var name: String }
        let wrong = try BinaryEncoder().encode(TopWithArray(middle: [1], leaf: Leaf(value: 2, note: nil), name: "w"))
        do {
            _ = try decodeAll(wrong)
            Issue.record("decoded an array as a Middle")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["middle"])
        }

        // The same coders still read good input.
        #expect(try decodeAll(Self.oneByOne([Self.top(5), Self.top(6)])) == [Self.top(5), Self.top(6)])
    }
}
