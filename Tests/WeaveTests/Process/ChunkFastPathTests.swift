import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

/// The shortcuts a chunk takes through the coders and the pool (cached key bytes, integers
/// read in line, varints written in line, outputs decoded straight into `map`'s result)
/// must give exactly what the general paths give, at every boundary.
@Suite("Chunk fast paths", .timeLimit(.minutes(3)))
struct ChunkFastPathTests {
    /// More keys than the writer caches (16), some longer than a cached key may be (15
    /// bytes of UTF-8), and some not ASCII.
    struct ManyKeys: Codable, Equatable {
        var a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8, i = 9, j = 10
        var k = 11, l = 12, m = 13, n = 14, o = 15, p = 16, q = 17, r = 18
        var fifteenBytesKey = 19  // exactly 15
        var sixteenBytesKeyX = 20  // 16: encoded in 17 bytes, never cached
        var aMuchLongerPropertyNameThanAnyCachedKey = 21
        var café = 22
        var names: [String: Int] = [:]
    }

    static func values() -> [ManyKeys] {
        (0..<40).map { index in
            var value = ManyKeys()
            value.a = index
            value.café = -index
            // Keys made at run time: equal contents in fresh storage each value, small and
            // large strings, and different keys of one length.
            value.names = [
                "k\(index % 3)": index, String(repeating: "x", count: 20 + index % 2): 1,
                "same-length-\(index % 4)": 2,
            ]
            return value
        }
    }

    @Test("keys written from the cache are the bytes a fresh writer writes, for every key kind")
    func cachedKeysMatchFreshEncoding() throws {
        let values = Self.values()
        var oneByOne: [UInt8] = []
        for value in values { oneByOne += try BinaryEncoder().encode(value) }
        // One set of coders over several passes: the key cache fills in the first pass and
        // serves the later ones.
        let coders = BinaryCoders()
        for _ in 0..<3 {
            var run: [UInt8] = []
            try coders.appending(to: &run) { writer in
                try values.withUnsafeBufferPointer { try writer.encodeValues($0) }
            }
            #expect(run == oneByOne)
        }
        let decoded = try oneByOne.withUnsafeBytes { raw in
            try BinaryReader.reading(raw) { reader in
                var position = 0
                var result: [ManyKeys] = []
                while position < raw.count { result.append(try reader.decodeNext(ManyKeys.self, at: &position)) }
                return result
            }
        }
        #expect(decoded == values)
    }

    @Test("integers read in line agree with the general reader at every length and near the end")
    func shortIntegerRuns() throws {
        let boundaries = [
            0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, -8193,
            (1 << 20) - 1, -(1 << 20), 1 << 20, -(1 << 20) - 1, 1 << 40, Int.max, Int.min,
        ]
        // Every prefix, so that each value is at some point one of the last few bytes.
        for length in 0...boundaries.count {
            let values = Array(boundaries[..<length])
            var bytes: [UInt8] = []
            try BinaryEncoder().encode(contentsOf: values, appendingTo: &bytes)
            let decoded = try bytes.withUnsafeBytes { raw in
                try BinaryReader.reading(raw) { reader in
                    var position = 0
                    let result = try [Int](unsafeUninitializedCapacity: values.count) { buffer, initialized in
                        guard let base = buffer.baseAddress else { return }
                        try reader.decodeRun(Int.self, count: values.count, into: base, at: &position, initialized: &initialized)
                    }
                    #expect(position == raw.count)
                    return result
                }
            }
            #expect(decoded == values, "prefix of \(length)")
        }
        // Not an integer where one is expected: a typed error, in line or not.
        var bytes: [UInt8] = []
        try BinaryEncoder().encode(contentsOf: [5, 6], appendingTo: &bytes)
        bytes += try BinaryEncoder().encode("seven")
        #expect(throws: DecodingError.self) {
            try bytes.withUnsafeBytes { raw in
                try BinaryReader.reading(raw) { reader in
                    var position = 0
                    _ = try [Int](unsafeUninitializedCapacity: 3) { buffer, initialized in
                        try reader.decodeRun(Int.self, count: 3, into: buffer.baseAddress!, at: &position, initialized: &initialized)
                    }
                }
            }
        }
    }

    struct Unsigned: Codable, Equatable {
        var value: UInt64
        var signed: Int64
    }

    @Test("varints written in line round-trip at the one-, two-, three- and four-byte boundaries")
    func varintBoundaries() throws {
        let numbers: [UInt64] = [0, 127, 128, 16383, 16384, (1 << 21) - 1, 1 << 21, 1 << 35, .max]
        let values = numbers.map { Unsigned(value: $0, signed: Int64(truncatingIfNeeded: $0 / 2) * ($0 % 2 == 0 ? 1 : -1)) }
        for value in values {
            #expect(try BinaryDecoder().decode(Unsigned.self, from: BinaryEncoder().encode(value)) == value)
        }
        // The encoded lengths: one byte a 7 bits.
        #expect(try BinaryEncoder().encode(UInt64(127)).count == 2)
        #expect(try BinaryEncoder().encode(UInt64(128)).count == 3)
        #expect(try BinaryEncoder().encode(UInt64(16384)).count == 4)
        #expect(try BinaryEncoder().encode(UInt64((1 << 21) - 1)).count == 4)
        #expect(try BinaryEncoder().encode(UInt64(1 << 21)).count == 5)
    }

    @Test("map over an array fills its result in place: outputs of any size, and a failing chunk cleans up")
    func mapFillsResultInPlace() async throws {
        try await onHub {
            let pool = try testPool()
            // Squares from one to eight varint bytes, in chunks that do not divide the count.
            let inputs = (0..<500).map { $0 % 3 == 0 ? $0 * 1_000_003 : $0 - 250 }
            for chunkSize in [1, 7, 64, 500] {
                #expect(try pool.map(inputs.map(Square.init), chunkSize: chunkSize) == inputs.map { $0 * $0 }, "chunk \(chunkSize)")
            }
            pool.close()
            try pool.join(timeout: .seconds(30))

            // Outputs that own memory, the chunk after several good ones failing (one
            // output larger than a frame may be): map throws that error, and the outputs
            // already in place are released with the result.
            let small = try testPool(maximumFrameSize: 64 * 1024)
            let echoes = (0..<200).map { EchoBytes(count: $0 == 150 ? 100_000 : $0 % 5) }
            do {
                _ = try small.map(echoes, chunkSize: 16)
                Issue.record("map returned despite a chunk too large to send back")
            } catch let error as ProcessError {
                #expect(error.code == .frameTooLarge, "\(error)")
            }
            // The pool goes on.
            #expect(try small.map((0..<50).map { EchoBytes(count: $0 % 4) }, chunkSize: 8) == (0..<50).map { [UInt8](repeating: 7, count: $0 % 4) })
            small.close()
            try small.join(timeout: .seconds(30))
        }
    }
}
