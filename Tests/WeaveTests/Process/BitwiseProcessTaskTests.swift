import Glibc
import TestTasks
import Testing
import Weave
import WeaveTestSupport

/// A BitwiseProcessTask chunk travels as its bytes, both ways: the same outputs, failures
/// and blame as the Codable path.
@Suite("BitwiseProcessTask", .timeLimit(.minutes(3)))
struct BitwiseProcessTaskTests {
    private static func expected(_ index: Int) -> BitwiseScaled {
        BitwiseScaled(product: Double(index) * 1.5 + Double(index % 7), flag: index % 2 == 0)
    }

    private static func task(_ index: Int) -> BitwiseScale {
        BitwiseScale(value: Int32(index), factor: 1.5, small: UInt8(index % 7))
    }

    @Test("map, imap and apply return every output, padded outputs included, for any chunk size")
    func roundTrip() async throws {
        try await onHub {
            let pool = try testPool()
            for chunkSize in [1, 7, 64, 1000] {
                let outputs = try pool.map((0..<1000).map(Self.task), chunkSize: chunkSize)
                #expect(outputs == (0..<1000).map(Self.expected), "chunk size \(chunkSize)")
            }
            let lazily = try pool.imapUnordered((0..<300).map(Self.task), chunkSize: 16).map { try $0.get() }
            #expect(Set(lazily.map(\.product)) == Set((0..<300).map { Self.expected($0).product }))
            #expect(try pool.apply(Self.task(41)) == Self.expected(41))
            #expect(try pool.map([BitwiseScale](), chunkSize: 8).isEmpty)
            pool.close()
            try pool.join()
        }
    }

    @Test("a task that throws fails its chunk with the remote error; the other chunks succeed")
    func throwingChunk() async throws {
        let outcomes = try await onHub { () -> [Result<BitwiseScaled, any Error>] in
            let pool = try testPool()
            let tasks = (0..<100).map { $0 == 33 ? BitwiseScale(value: -1, factor: 1) : Self.task($0) }
            return try pool.imap(tasks, chunkSize: 10).map { $0 }
        }
        for (index, outcome) in outcomes.enumerated() {
            if (30..<40).contains(index) {
                guard case .failure(let error) = outcome, let error = error as? ProcessError else {
                    Issue.record("index \(index): \(outcome)")
                    continue
                }
                #expect(error.code == .remoteError)
                #expect(error.message.contains("negative -1"))
            } else {
                #expect((try? outcome.get()) == Self.expected(index), "index \(index)")
            }
        }
    }

    @Test("a worker killed in a chunk fails exactly that chunk")
    func deathInChunk() async throws {
        let outcomes = try await onHub { () -> [Result<Int, any Error>] in
            let pool = try testPool()
            return try pool.imap((0..<1000).map { BitwisePoison(index: $0, poison: 505) }, chunkSize: 10).map { $0 }
        }
        #expect(outcomes.count == 1000)
        for (index, outcome) in outcomes.enumerated() {
            if (500..<510).contains(index) {
                guard case .failure(let error) = outcome else {
                    Issue.record("index \(index): \(outcome)")
                    continue
                }
                #expect((error as? ProcessError)?.code == .workerDied)
            } else {
                #expect((try? outcome.get()) == index + 1, "index \(index): \(outcome)")
            }
        }
    }

    @Test("a worker refuses bytes for a task type it knows as Codable")
    func bytesForCodableTypeAreRefused() async throws {
        let error = try await onHub { () -> (any Error)? in
            let pool = try testPool()
            defer { pool.close() }
            do {
                _ = try pool.map([BitwiseImpostor(value: 3), BitwiseImpostor(value: 4)], chunkSize: 2)
                return nil
            } catch {
                // The pool still serves the real task afterwards.
                #expect(try pool.apply(Square(5)) == 25)
                return error
            }
        }
        let processError = try #require(error as? ProcessError)
        #expect(processError.code == .malformedFrame)
        #expect(processError.message.contains("not a BitwiseProcessTask"))
    }
}
