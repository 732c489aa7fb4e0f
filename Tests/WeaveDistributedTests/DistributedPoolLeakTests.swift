import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveDistributed
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("Nothing leaks: sockets and coroutines back to their baseline after pools and a worker are done (child process)")
    func noLeaksInChildProcess() async throws {
        let url = try RabbitMQBroker.suite.url
        // In a process of its own: the test process's descriptors move with the tests
        // running beside this one.
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [url = url as String] in
            let before = openFileDescriptorCount(kind: "socket:")
            do { try Hub.run {
                let baseline = aliveCoroutines()
                let queue = "leak-\(getpid())"
                let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, concurrency: 4) }
                for round in 0..<2 {
                    let pool = try DistributedPool(url: url, queue: queue)
                    guard try pool.map((0..<40).map { Square($0) }, chunkSize: 4, timeout: .seconds(60)) == (0..<40).map({ $0 * $0 }) else {
                        FileHandleStandardError.write("child failed: wrong map results\n")
                        exit(14)
                    }
                    do {
                        // Abandoned mid-way: its results are dropped when they come.
                        let iteration = try pool.imapUnordered((0..<50).map { NapThenSquare($0, milliseconds: 5) }, timeout: .seconds(60))
                        _ = try iteration.next(timeout: .seconds(60))
                    }
                    _ = try pool.apply(Square(3), timeout: .seconds(60))
                    // Round 1: dropped without close(); its deinit closes it.
                    if round == 0 { pool.close() }
                }
                worker.cancel()
                _ = try? worker.join(timeout: .seconds(10))
                for _ in 0..<400 where aliveCoroutines() != baseline { try Coroutine.sleep(for: .milliseconds(5)) }
                let alive = aliveCoroutines()
                guard alive == baseline else {
                    FileHandleStandardError.write("child failed: \(alive) coroutines alive, baseline \(baseline)\n")
                    exit(11)
                }
            } } catch {
                FileHandleStandardError.write("child failed: \(error)\n")
                exit(12)
            }
            let after = openFileDescriptorCount(kind: "socket:")
            guard after == before else {
                FileHandleStandardError.write("child failed: \(after) sockets open, \(before) before\n")
                exit(10)
            }
        }
        if let result, result.exitStatus != .exitCode(EXIT_SUCCESS) {
            Issue.record("\(String(decoding: result.standardErrorContent, as: UTF8.self))")
        }
    }
}
