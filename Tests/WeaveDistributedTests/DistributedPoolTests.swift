import Glibc
import TestTasks
import RabbitMQTestSupport
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveProcess
import WeaveTestSupport

@Suite("DistributedPool against a real RabbitMQ", .rabbitMQBroker)
struct DistributedPoolTests {
    @Test("apply through a worker coroutine; a task's error arrives typed, as ProcessPool's")
    func applyAndTypedError() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("apply")
            let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, concurrency: 2) }
            defer { worker.cancel() }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            #expect(try pool.apply(Square(7), timeout: .seconds(30)) == 49)
            #expect(try pool.apply(EchoBytes(count: 3), timeout: .seconds(30)) == [7, 7, 7])
            do {
                _ = try pool.apply(CheckQuota(user: "ada", used: 12, limit: 10), timeout: .seconds(30))
                Issue.record("CheckQuota over its limit returned")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.isRemote(QuotaExceeded.self))
                #expect(error.remoteError(as: QuotaExceeded.self) == QuotaExceeded(user: "ada", used: 12, limit: 10, tags: ["quota", "ada"]))
            }
            #expect(pool.outstandingCount == 0)
        }
    }

    @Test("map of 100 tasks, chunked and not, through 2 worker processes that both serve")
    func mapThroughTwoWorkerProcesses() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("map")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            let workers = try (0..<2).map { _ in try startWorkerProcess(url: url, queue: queue) }
            defer { for worker in workers { try? worker.kill() } }
            try waitForConsumers(2, on: queue, channel: control)
            let expected = (0..<100).map { $0 * $0 }
            #expect(try pool.map((0..<100).map { Square($0) }, timeout: .seconds(60)) == expected)
            #expect(try pool.map((0..<100).map { Square($0) }, chunkSize: 7, timeout: .seconds(60)) == expected)
            #expect(try pool.map([Square](), chunkSize: 3) == [])
            // Each of these waits until two distinct workers have started one: with prefetch
            // 1 they only finish if both worker processes serve the queue.
            let rendezvous = "/tmp/weave-distributed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(rendezvous) }
            let pids = try pool.map((0..<2).map { _ in SlowWorkerPID(rendezvous: rendezvous, workers: 2) }, timeout: .seconds(60))
            #expect(Set(pids) == Set(workers.map(\.pid)))
            #expect(pool.outstandingCount == 0)
        }
    }

    @Test("A worker running its tasks on a local ProcessPool: results, pool pids, typed errors")
    func workerOnLocalProcessPool() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("local-pool")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            let worker = try startWorkerProcess(url: url, queue: queue, concurrency: 2, processes: 2)
            defer { try? worker.kill() }
            try waitForConsumers(1, on: queue, channel: control)
            #expect(try pool.map((0..<50).map { Square($0) }, chunkSize: 4, timeout: .seconds(60)) == (0..<50).map { $0 * $0 })
            // Two at once, each waiting for the other: they run in two pool processes.
            let rendezvous = "/tmp/weave-distributed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(rendezvous) }
            let pids = try pool.map((0..<2).map { _ in SlowWorkerPID(rendezvous: rendezvous, workers: 2) }, timeout: .seconds(60))
            #expect(Set(pids).count == 2)
            #expect(!pids.contains(worker.pid))
            do {
                _ = try pool.apply(CheckQuota(user: "bo", used: 3, limit: 1), timeout: .seconds(30))
                Issue.record("CheckQuota over its limit returned")
            } catch let error as ProcessError {
                #expect(error.remoteError(as: QuotaExceeded.self) == QuotaExceeded(user: "bo", used: 3, limit: 1, tags: ["quota", "bo"]))
            }
        }
    }

    @Test("A worker killed mid-task: the broker redelivers it to another and the caller gets one result")
    func killedWorkerMidTask() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("kill")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            let first = try startWorkerProcess(url: url, queue: queue)
            defer { try? first.kill() }
            try waitForConsumers(1, on: queue, channel: control)
            let call = try spawn { try pool.apply(NapThenSquare(9, milliseconds: 1500), timeout: .seconds(60)) }
            // Published (the call parks for its confirm, then for the result)...
            while pool.outstandingCount == 0 { try Coroutine.sleep(for: .milliseconds(10)) }
            try Coroutine.sleep(for: .milliseconds(200))
            // ...then delivered to the first worker (none ready) and unacknowledged: kill it there.
            for _ in 0..<600 {
                if try control.queueDeclare(queue, passive: true).messageCount == 0 { break }
                try Coroutine.sleep(for: .milliseconds(20))
            }
            try first.kill(signal: SIGKILL)
            _ = try first.wait(timeout: .seconds(10))
            #expect(!call.isFinished)
            let second = try startWorkerProcess(url: url, queue: queue)
            defer { try? second.kill() }
            #expect(try call.join(timeout: .seconds(60)) == 81)
            #expect(pool.outstandingCount == 0)
            // The task was acknowledged once, by the second worker: nothing left to deliver.
            let state = try control.queueDeclare(queue, passive: true)
            #expect(state.messageCount == 0)
        }
    }

    @Test("A duplicate result (same correlation id) is dropped; the next call gets its own")
    func duplicateResultDropped() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("dup")
            let worker = try spawn { try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks) }
            defer { worker.cancel() }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            #expect(try pool.apply(Square(3), timeout: .seconds(30)) == 9)
            // Replay the worker's answer to call 1 (a redelivered task finishing twice) by
            // running the same request again and publishing its reply with id "1".
            let connection = try AMQPConnection.connect(url: url)
            defer { connection.close() }
            let channel = try connection.openChannel()
            try channel.confirmSelect()
            let properties = AMQPMessageProperties(correlationID: "1")
            try channel.publish(EncodedTask.run(try EncodedTask.encode([Square(5)], count: 1)), routingKey: pool.replyQueue, properties: properties)
            try channel.publish(EncodedTask.run(try EncodedTask.encode([Square(6)], count: 1)), routingKey: pool.replyQueue, properties: properties)
            #expect(try pool.apply(Square(4), timeout: .seconds(30)) == 16)
            #expect(pool.outstandingCount == 0)
        }
    }

    @Test("Timeout: the caller stops waiting and the message expires unstarted (TTL)")
    func timeoutExpiresTheMessage() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("ttl")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            #expect(throws: TimeoutError.self) { try pool.apply(Square(2), timeout: .milliseconds(300)) }
            #expect(pool.outstandingCount == 0)
            var left = -1
            for _ in 0..<200 {
                left = try control.queueDeclare(queue, passive: true).messageCount
                if left == 0 { break }
                try Coroutine.sleep(for: .milliseconds(50))
            }
            #expect(left == 0)
        }
    }

    @Test("Closing the pool leaves no reply queue; calls after it throw closed")
    func noReplyQueueAfterClose() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("close")
            let pool = try DistributedPool(url: url, queue: queue)
            let replyQueue = pool.replyQueue
            let connection = try AMQPConnection.connect(url: url)
            defer { connection.close() }
            // While the pool lives its reply queue exists, exclusive to the pool's connection.
            do {
                try connection.openChannel().queueDeclare(replyQueue, passive: true)
                Issue.record("another connection could declare the pool's exclusive reply queue")
            } catch let error as AMQPError {
                #expect(error.replyCode == AMQPError.ReplyCode.resourceLocked)
            }
            pool.close()
            #expect(pool.isClosed)
            do {
                _ = try pool.apply(Square(1))
                Issue.record("apply on a closed pool returned")
            } catch let error as ProcessError {
                #expect(error.code == .closed)
            }
            do {
                try connection.openChannel().queueDeclare(replyQueue, passive: true)
                Issue.record("the reply queue outlived its pool")
            } catch let error as AMQPError {
                #expect(error.replyCode == AMQPError.ReplyCode.notFound)
            }
            // The work queue is durable: it stays.
            #expect(try connection.openChannel().queueDeclare(queue, passive: true).name == queue)
        }
    }
}
