import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

/// The pool and its workers keep their binary coders (and the containers those reuse) from
/// one chunk to the next: nested values must come back exactly, whatever the chunking.
@Suite("ProcessPool coding", .timeLimit(.minutes(3)))
struct ProcessPoolCodingTests {
    @Test("nested structs, enums, optionals, strings, arrays and dictionaries come back exactly in every chunking")
    func nestedValuesEveryChunking() async throws {
        try await onHub {
            let pool = try testPool()
            let tasks = (0..<300).map(Reshape.init)
            let expected = tasks.map { Reshape.expected($0.record, $0.index) }
            for chunkSize in [1, 7, 64, 300] {
                #expect(try pool.map(tasks, chunkSize: chunkSize) == expected, "chunk \(chunkSize)")
            }
            let ordered = try pool.imap(tasks, chunkSize: 5).map { try $0.get() }
            #expect(ordered == expected)
            #expect(try pool.apply(tasks[41]) == expected[41])
            // Scalar outputs and composite outputs through the same pool and coders, in turn.
            #expect(try pool.map((1...100).map(Square.init), chunkSize: 9) == (1...100).map { $0 * $0 })
            #expect(try pool.map(tasks, chunkSize: 3) == expected)
            pool.close()
            try pool.join(timeout: .seconds(30))
        }
    }

    @Test("BinaryCoders: a pass begun inside another gets coders of its own; caches survive passes")
    func nestedPasses() throws {
        let coders = BinaryCoders()
        let values = (0..<20).map(Reshape.init).map(\.record)
        var outer: [UInt8] = []
        var inner: [UInt8] = []
        try coders.appending(to: &outer) { writer in
            try writer.encodeValues(values[..<10])
            try coders.appending(to: &inner) { try $0.encodeValues(values[10...]) }
        }
        var again: [UInt8] = []
        try coders.appending(to: &again) { try $0.encodeValues(values[..<10]) }
        #expect(again == outer)
        var oneByOne: [UInt8] = []
        for value in values[10...] { oneByOne += try BinaryEncoder().encode(value) }
        #expect(inner == oneByOne)
        let decoded = try (outer + inner).withUnsafeBytes { raw in
            try coders.reading(raw) { reader in
                var position = 0
                var records: [Record] = []
                while position < raw.count { records.append(try reader.decodeNext(Record.self, at: &position)) }
                return records
            }
        }
        #expect(decoded == values)
    }
}
