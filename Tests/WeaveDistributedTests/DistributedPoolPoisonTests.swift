import Glibc
import RabbitMQTestSupport
import TestTasks
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("A task that kills its worker every time is dead-lettered after 3 deliveries and fails typed; the rest of the map succeeds")
    func poisonTaskDeadLettered() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("poison")
            let log = "/tmp/weave-poison-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(log) }
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            #expect(pool.configuration.maximumDeliveries == 3)
            // Two workers, each replaced as soon as the poison kills it.
            let workers = try WorkerSupervisor(count: 2) { try startWorkerProcess(url: url, queue: queue, maximumDeliveries: 3) }
            defer { workers.stop() }
            let tasks = (0..<8).map { Poison(index: $0, poison: [3], log: log) }
            var outputs: [Int: Int] = [:]
            var failures: [Int: any Error] = [:]
            for (index, result) in try pool.imap(tasks, timeout: .seconds(60)).enumerated() {
                switch result {
                case .success(let output): outputs[index] = output
                case .failure(let error): failures[index] = error
                }
            }
            #expect(outputs == Dictionary(uniqueKeysWithValues: (0..<8).filter { $0 != 3 }.map { ($0, $0 + 1) }))
            #expect(failures.count == 1)
            let error = try #require(failures[3] as? DistributedTaskError, "\(String(describing: failures[3]))")
            #expect(error.code == .deliveryLimitExceeded)
            #expect(error.taskName == Poison.taskName)
            #expect(!error.taskID.isEmpty && error.queue == queue && error.taskCount == 1)
            #expect(error.description.contains(Poison.taskName) && error.description.contains("task \(error.taskID) "))
            // Delivered exactly 3 times, each time to a fresh worker that it killed; every
            // other task ran once (prefetch 1: a dying worker held nothing else).
            let runs = poisonLog(log)
            #expect(runs.filter { $0.index == 3 }.count == 3)
            #expect(Set(runs.filter { $0.index == 3 }.map(\.pid)).count == 3)
            for index in 0..<8 where index != 3 { #expect(runs.filter { $0.index == index }.count == 1, "task \(index)") }
            // The broker saw the third death before the supervisor reaped that worker.
            for _ in 0..<500 where workers.deaths < 3 { try Coroutine.sleep(for: .milliseconds(20)) }
            #expect(workers.deaths == 3)
            #expect(pool.outstandingCount == 0)
            // Dead-lettered, not requeued: nothing is left in the work queue.
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
            // apply sees the same error.
            do {
                _ = try pool.apply(Poison(index: 99, poison: [99], log: log), timeout: .seconds(60))
                Issue.record("a poison task returned")
            } catch let error as DistributedTaskError {
                #expect(error.code == .deliveryLimitExceeded && error.taskName == Poison.taskName)
            }
        }
    }

    @Test("A pool and a worker with another delivery limit disagree on the queue: 406 at once")
    func mismatchedDeliveryLimit() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("limit")
            let pool = try DistributedPool(url: url, queue: queue, configuration: .init(maximumDeliveries: 5))
            defer { pool.close() }
            do {
                try DistributedWorker.run(url: url, queue: queue, tasks: allTestTasks, maximumDeliveries: 3)
                Issue.record("a worker served a queue declared with another limit")
            } catch let error as AMQPError {
                #expect(error.replyCode == AMQPError.ReplyCode.preconditionFailed)
            }
            #expect(throws: WeaveError.self) { _ = try DistributedPool(url: url, queue: queue, configuration: .init(maximumDeliveries: 0)) }
        }
    }
}
