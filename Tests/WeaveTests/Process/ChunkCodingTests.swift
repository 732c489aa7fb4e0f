import Testing
import Weave
@testable import WeaveProcess

/// A pool's chunk is encoded in one pass with one writer (its top-level encoder reused from
/// value to value): the bytes must be exactly those of the values encoded one by one.
@Suite("Chunk coding")
struct ChunkCodingTests {
    enum Mixed: Codable, Equatable {
        case number(Int)
        case words([String])
        case nothing
    }

    struct Record: Codable, Equatable {
        var id: Int
        var tag: String?
        var mixed: Mixed
        var a = 1, b = 2.5, c = true, d: UInt64 = 7  // more than four keys
    }

    @Test("a run of values encodes as the concatenation of each value's encoding")
    func runEqualsConcatenation() throws {
        let records = (0..<50).map { index in
            Record(id: index, tag: index % 3 == 0 ? nil : "t\(index)",
                   mixed: index % 2 == 0 ? .number(-index) : (index % 5 == 0 ? .nothing : .words(["x", "\(index)"])))
        }
        var run: [UInt8] = []
        try BinaryEncoder().encode(contentsOf: records, appendingTo: &run)
        var oneByOne: [UInt8] = []
        for record in records { oneByOne += try BinaryEncoder().encode(record) }
        #expect(run == oneByOne)

        var scalars: [UInt8] = []
        try BinaryEncoder().encode(contentsOf: [3, -4, .max, .min], appendingTo: &scalars)
        var expected: [UInt8] = []
        for value in [3, -4, Int.max, Int.min] { expected += try BinaryEncoder().encode(value) }
        #expect(scalars == expected)

        // And it decodes back value by value, as the worker reads a chunk.
        let decoded = try run.withUnsafeBytes { raw -> [Record] in
            try BinaryReader.reading(raw) { reader in
                var position = 0
                var values: [Record] = []
                while position < raw.count { values.append(try reader.decodeNext(Record.self, at: &position)) }
                return values
            }
        }
        #expect(decoded == records)
    }
}
