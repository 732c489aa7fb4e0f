import Foundation
import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("10,000 tasks across 3 worker processes: each result exactly once")
    func tenThousandTasksAcrossThreeWorkers() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("scale")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            let workers = try (0..<3).map { _ in try startWorkerProcess(url: url, queue: queue, concurrency: 2) }
            defer { for worker in workers { try? worker.kill() } }
            try waitForConsumers(3, on: queue, channel: control)
            var seen = [Int](repeating: 0, count: 10_000)
            var count = 0
            for result in try pool.imapUnordered((0..<10_000).map { Square($0) }, chunkSize: 100, timeout: .seconds(120)) {
                let square = try result.get()
                let root = Int(Double(square).squareRoot().rounded())
                #expect(root * root == square && root < seen.count)
                if root * root == square && root < seen.count { seen[root] += 1 }
                count += 1
            }
            #expect(count == 10_000)
            #expect(seen.allSatisfy { $0 == 1 })
            #expect(pool.outstandingCount == 0)
            // The work spreads: three tasks that each wait (bounded) until three distinct
            // workers have one. A worker runs two tasks at once (concurrency 2), so it may hold
            // two of them and leave the third worker none: at least two distinct workers, all
            // of them ours.
            let rendezvous = "/tmp/weave-distributed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(rendezvous) }
            let pids = try pool.map((0..<3).map { _ in SlowWorkerPID(rendezvous: rendezvous, workers: 3) }, timeout: .seconds(60))
            #expect(Set(pids).isSubset(of: Set(workers.map(\.pid))))
            #expect(Set(pids).count >= 2)
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
        }
    }

    @Test("A caller killed with SIGKILL leaves no reply queue behind")
    func killedCallerLeavesNoQueue() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("gone")
            let file = "/tmp/weave-caller-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(file) }
            let caller = try Command.spawn(testWorkerPath, arguments: ["--distributed-caller", url, queue, file],
                                           standardInput: .discard, standardOutput: .discard, standardError: .inherit,
                                           parentDeathSignal: SIGKILL)
            var replyQueue: String?
            for _ in 0..<600 {
                if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                    replyQueue = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    break
                }
                try Coroutine.sleep(for: .milliseconds(50))
            }
            let name = try #require(replyQueue)
            let connection = try AMQPConnection.connect(url: url)
            defer { connection.close() }
            #expect(try queueExists(name, on: connection))
            try caller.kill(signal: SIGKILL)
            _ = try caller.wait(timeout: .seconds(10))
            var exists = true
            for _ in 0..<200 {
                exists = try queueExists(name, on: connection)
                if !exists { break }
                try Coroutine.sleep(for: .milliseconds(50))
            }
            #expect(!exists, "the reply queue \(name) outlived its caller")
            // The durable work queue stays for the workers.
            #expect(try queueExists(queue, on: connection))
        }
    }
}
