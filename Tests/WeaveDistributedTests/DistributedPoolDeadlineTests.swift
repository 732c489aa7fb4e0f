import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("Per-task deadline: a task queued behind a busy worker past its timeout fails with TimeoutError and never runs")
    func deadlineExpiresQueuedTask() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("deadline")
            let log = "/tmp/weave-deadline-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(log) }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            // One worker, one task at a time: the first task keeps it busy for 1.5 s.
            let worker = try startWorkerProcess(url: url, queue: queue)
            defer { try? worker.kill() }
            try waitForConsumers(1, on: queue, channel: control)
            let busy = try spawn { try pool.apply(NapThenSquare(5, milliseconds: 1500), timeout: .seconds(60)) }
            while pool.outstandingCount == 0 { try Coroutine.sleep(for: .milliseconds(10)) }
            // Queued behind it with a 300 ms deadline: the caller gives up at the deadline...
            do {
                _ = try pool.apply(Poison(index: 1, poison: [], log: log), timeout: .milliseconds(300))
                Issue.record("a task past its deadline returned")
            } catch let error as TimeoutError {
                #expect(error.description.contains(Poison.taskName) && error.description.contains(queue))
            }
            #expect(pool.outstandingCount == 1)
            // ...and the broker drops the message unstarted (its TTL): once the worker is free
            // it never runs it.
            #expect(try busy.join(timeout: .seconds(60)) == 25)
            #expect(try pool.apply(Square(4), timeout: .seconds(30)) == 16)
            #expect(poisonLog(log).isEmpty)
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
            #expect(pool.outstandingCount == 0)
        }
    }
}
