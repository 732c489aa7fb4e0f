import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveProcess
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("imap yields in input order, a task's error at its index, chunked; the input is read lazily")
    func imapInOrder() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("imap")
            let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, concurrency: 4) }
            defer { worker.cancel() }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            // Later tasks finish first: imap still yields in input order.
            let naps = (0..<12).map { NapThenSquare($0, milliseconds: (12 - $0) * 10) }
            var outputs: [Int] = []
            for result in try pool.imap(naps, chunkSize: 3, timeout: .seconds(60)) { outputs.append(try result.get()) }
            #expect(outputs == (0..<12).map { $0 * $0 })
            // A failing chunk is yielded at each of its indices; the iteration goes on.
            let results = try pool.imap([Square(1), Square(2), Square(3)], timeout: .seconds(60))
            #expect(try results.next(timeout: .seconds(60)) == 1)
            #expect(try results.next(timeout: .seconds(60)) == 4)
            #expect(try results.next(timeout: .seconds(60)) == 9)
            #expect(try results.next(timeout: .seconds(60)) == nil)
            var kinds: [String] = []
            let mixed: [NapThenMaybeFail] = (0..<6).map { NapThenMaybeFail($0, milliseconds: 1, fails: $0 == 2) }
            for result in try pool.imap(mixed, chunkSize: 2, timeout: .seconds(60)) {
                switch result {
                case .success(let value): kinds.append("\(value)")
                case .failure(let error as ProcessError): kinds.append(error.code == .remoteError ? "error" : "other")
                case .failure: kinds.append("other")
                }
            }
            #expect(kinds == ["0", "1", "error", "error", "16", "25"])
            // A lazy input with a window of 2: at most 2 chunks are out ahead of the reader.
            var read = 0
            let lazy = (0..<40).lazy.map { index -> Square in
                read += 1
                return Square(index)
            }
            let iteration = try pool.imap(lazy, chunkSize: 5, timeout: .seconds(60), maxInFlight: 2)
            #expect(try iteration.next(timeout: .seconds(60)) == 0)
            #expect(read <= 15)
            var rest: [Int] = []
            while let output = try iteration.next(timeout: .seconds(60)) { rest.append(output) }
            #expect(rest == (1..<40).map { $0 * $0 })
            #expect(pool.outstandingCount == 0)
        }
    }

    @Test("imapUnordered streams results as they arrive; stopping early leaves nothing awaited")
    func imapUnorderedStreams() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("imapu")
            let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, concurrency: 8) }
            defer { worker.cancel() }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            // The first task is the slowest: it comes last.
            let naps = [NapThenSquare(10, milliseconds: 1500)] + (1..<6).map { NapThenSquare($0, milliseconds: 10) }
            var order: [Int] = []
            for result in try pool.imapUnordered(naps, timeout: .seconds(60)) { order.append(try result.get()) }
            #expect(order.count == 6 && Set(order) == Set([100, 1, 4, 9, 16, 25]))
            #expect(order.last == 100)
            // The first result arrives while the slow one still runs; dropping the
            // iteration then leaves nothing awaited (its result is dropped when it comes).
            do {
                let streaming = try pool.imapUnordered(naps, timeout: .seconds(60))
                #expect(try streaming.next(timeout: .seconds(60)) != 100)
                #expect(pool.outstandingCount > 0)
            }
            #expect(pool.outstandingCount == 0)
            // A chunk past its deadline: TimeoutError at its indices (no worker serves this queue).
            let idle = try DistributedPool(url: url, queue: uniqueName("idle"))
            defer { idle.close() }
            var timeouts = 0
            for result in try idle.imapUnordered([Square(1), Square(2)], chunkSize: 2, timeout: .milliseconds(300)) {
                if case .failure(let error) = result, error is TimeoutError { timeouts += 1 }
            }
            #expect(timeouts == 2)
            #expect(idle.outstandingCount == 0)
        }
    }
}
