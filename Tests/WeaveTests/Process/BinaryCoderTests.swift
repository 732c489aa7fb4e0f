import Testing
import Weave
@testable import WeaveProcess

@Suite("BinaryEncoder and BinaryDecoder")
struct BinaryCoderTests {
    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case square(side: Int)
        case nothing
    }

    struct Nested: Codable, Equatable {
        var name: String
        var values: [Int]
        var optional: Int?
        var missing: String?
        var shapes: [Shape]
        var table: [String: [UInt16]]
        var bytes: [UInt8]
        var flag: Bool
        var float: Float
        var extremes: [Int64]
        var unsigned: UInt64
        var inner: Inner?
    }

    struct Inner: Codable, Equatable {
        var text: String
        var more: [Inner]
    }

    static let sample = Nested(
        name: "héllo wörld", values: [0, 1, -1, 300, -70_000], optional: 42, missing: nil,
        shapes: [.circle(radius: 1.5), .square(side: -3), .nothing],
        table: ["a": [1, 2], "": []], bytes: [0, 255, 7], flag: true, float: -2.25,
        extremes: [.min, .max, 0], unsigned: .max,
        inner: Inner(text: "x", more: [Inner(text: "y", more: [])]))

    @Test("round trips nested structs, enums, optionals, dictionaries and byte arrays")
    func roundTrip() throws {
        let bytes = try BinaryEncoder().encode(Self.sample)
        #expect(try BinaryDecoder().decode(Nested.self, from: bytes) == Self.sample)
        #expect(try BinaryDecoder().decode([Int].self, from: BinaryEncoder().encode([1, 2, 3])) == [1, 2, 3])
        #expect(try BinaryDecoder().decode(String.self, from: BinaryEncoder().encode("solo")) == "solo")
    }

    @Test("a small struct encodes in a few bytes")
    func compact() throws {
        struct Task: Codable { let n: Int }
        #expect(try BinaryEncoder().encode(Task(n: 5)).count <= 6)
    }

    @Test("every truncation of a valid value is an error, never a crash")
    func truncations() throws {
        let bytes = try BinaryEncoder().encode(Self.sample)
        for length in 0..<bytes.count {
            #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Nested.self, from: Array(bytes[..<length])) }
        }
    }

    @Test("garbage, wrong types, trailing bytes and deep nesting are typed errors")
    func malformed() throws {
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: [0x42]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: BinaryEncoder().encode(5)) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: BinaryEncoder().encode(5) + [0]) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(UInt8.self, from: BinaryEncoder().encode(300)) }
        // A string whose length claims far more bytes than there are.
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: [BinaryFormat.string, 0xFF, 0xFF, 0xFF, 0x7F]) }
        let deep = [UInt8](repeating: BinaryFormat.array, count: 100_000)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([[Int]].self, from: deep) }
    }
}
