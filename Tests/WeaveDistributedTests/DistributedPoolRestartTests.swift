import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveTestSupport

/// Tests that restart the broker or count its connections: serialized, on a broker of their own.
@Suite("DistributedPool on a broker of its own: restart, leaks", .rabbitMQBroker, .serialized)
struct DistributedPoolRestartTests {
    @Test("Broker restart during a map: pool and workers reconnect, work is redelivered, every result arrives exactly once")
    func brokerRestartDuringMap() async throws {
        let broker = try RabbitMQBroker.suite
        let url = broker.url
        try await onHub {
            let queue = uniqueName("restart")
            // The workers come back well before the pool: they take up the work again and
            // answer into a reply queue that does not exist yet (those answers are lost, and
            // the pool must publish what it still awaits again once it is back).
            let pool = try DistributedPool(url: url, queue: queue, configuration: .init(recoveryInterval: .seconds(4)))
            defer { pool.close() }
            let workers = try (0..<2).map { _ in try startWorkerProcess(url: url, queue: queue, maximumDeliveries: 3, recoveryMilliseconds: 100) }
            defer { for worker in workers { try? worker.kill() } }
            do {
                let (connection, control) = try controlChannel(url)
                defer { connection.close() }
                try waitForConsumers(2, on: queue, channel: control)
            }
            let total = 300
            let done = Box(0)
            let mapper = try spawn { () -> [Int] in
                var outputs: [Int] = []
                for result in try pool.imapUnordered((0..<total).map { NapThenSquare($0, milliseconds: 20) }, timeout: .seconds(60)) {
                    outputs.append(try result.get())
                    done.value += 1
                }
                return outputs
            }
            for _ in 0..<3000 where done.value < 40 { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(done.value >= 40 && done.value < total)
            let before = done.value
            // Stopped and started again on the same port and data: the durable work queue and
            // its persistent messages survive; connections, the reply queue and deliveries not.
            try blocking(timeout: .seconds(180)) { try broker.restart() }
            let outputs = try mapper.join(timeout: .seconds(90))
            #expect(done.value > before)
            var seen = [Int](repeating: 0, count: total)
            for square in outputs {
                let root = Int(Double(square).squareRoot().rounded())
                if root * root == square && root < total { seen[root] += 1 }
            }
            #expect(outputs.count == total)
            #expect(seen.allSatisfy { $0 == 1 })
            #expect(!pool.isClosed && pool.outstandingCount == 0)
            // The reply queue came back under its own name (exclusive to the pool's new connection).
            // Asked again for a while: in two of three test runs made at once (load 95) it was
            // not there right after the map, yet the pool's apply below worked; why is not known.
            let check = try AMQPConnection.connect(url: url)
            defer { check.close() }
            var replyQueueBack = try queueExists(pool.replyQueue, on: check)
            for _ in 0..<300 where !replyQueueBack {
                try Coroutine.sleep(for: .milliseconds(100))
                replyQueueBack = try queueExists(pool.replyQueue, on: check)
            }
            #expect(replyQueueBack)
            // Workers still serve after the restart, and both pools' routes are back.
            #expect(try pool.apply(Square(12), timeout: .seconds(60)) == 144)
            #expect(workers.allSatisfy { !$0.hasExited })
        }
    }

    @Test("Nothing leaks: after pools and workers are done, coroutines, sockets and queues are back to their baseline")
    func noLeaks() async throws {
        let broker = try RabbitMQBroker.suite
        let url = broker.url
        // Only this suite talks to its broker (and the restart test's workers are gone).
        for _ in 0..<200 where establishedConnections(toPort: broker.port) != 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(establishedConnections(toPort: broker.port) == 0)
        try await onHub {
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            let baseline = aliveCoroutines()
            for round in 0..<2 {
                let queue = uniqueName("leak")
                let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, concurrency: 4) }
                let pool = try DistributedPool(url: url, queue: queue)
                #expect(try pool.map((0..<50).map { Square($0) }, chunkSize: 5, timeout: .seconds(60)) == (0..<50).map { $0 * $0 })
                do {
                    // Abandoned mid-way: its results are dropped when they come.
                    let iteration = try pool.imapUnordered((0..<100).map { NapThenSquare($0, milliseconds: 5) }, timeout: .seconds(60))
                    _ = try iteration.next(timeout: .seconds(60))
                }
                #expect(try pool.apply(Square(3), timeout: .seconds(60)) == 9)
                let replyQueue = pool.replyQueue
                if round == 0 {
                    pool.close()
                    #expect(!(try queueExists(replyQueue, on: connection)))
                }
                // Round 1: the pool just goes (its deinit closes the connection).
                worker.cancel()
                _ = try? worker.join(timeout: .seconds(10))
                try control.queueDelete(queue)
            }
            for _ in 0..<200 where aliveCoroutines() != baseline { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(aliveCoroutines() == baseline)
        }
        // The sockets: the pools', the workers' and the control connection all closed.
        for _ in 0..<200 where establishedConnections(toPort: broker.port) != 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(establishedConnections(toPort: broker.port) == 0)
    }
}
