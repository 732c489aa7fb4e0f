import TestTasks
import RabbitMQTestSupport
import Testing
import Weave
import WeaveAMQP
import WeaveDistributed
import WeaveProcess
import WeaveTestSupport

@Suite("DistributedPool.submit against a real RabbitMQ", .rabbitMQBroker)
struct DistributedPoolSubmitTests {
    @Test("submit returns futures at once; results, typed errors and callbacks arrive through a worker process")
    func futuresAndCallbacks() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("submit")
            let pool = try DistributedPool(url: url, queue: queue)
            defer { pool.close() }
            let (connection, control) = try controlChannel(url)
            defer { connection.close() }
            // Published before any worker exists: submit must not wait for the result.
            let succeeded = Box<[Int]>([])
            let failed = Box<[any Error]>([])
            let futures = try (0..<20).map { value in
                try pool.submit(Square(value), timeout: .seconds(60), onSuccess: { succeeded.value.append($0) })
            }
            let failing = try pool.submit(CheckQuota(user: "ada", used: 12, limit: 10), timeout: .seconds(60),
                                          onSuccess: { _ in Issue.record("CheckQuota over its limit succeeded") },
                                          onFailure: { failed.value.append($0) })
            #expect(futures.allSatisfy { !$0.isReady })
            #expect(pool.outstandingCount == 21)
            let worker = try startWorkerProcess(url: url, queue: queue, concurrency: 2)
            defer { try? worker.kill() }
            try waitForConsumers(1, on: queue, channel: control)
            #expect(try futures.map { try $0.get(timeout: .seconds(60)) } == (0..<20).map { $0 * $0 })
            do {
                _ = try failing.get(timeout: .seconds(60))
                Issue.record("CheckQuota over its limit returned")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.remoteError(as: QuotaExceeded.self) == QuotaExceeded(user: "ada", used: 12, limit: 10, tags: ["quota", "ada"]))
            }
            // The callbacks run in the pool's own coroutine, after the futures are settled.
            var waited = 0
            while (succeeded.value.count < 20 || failed.value.isEmpty) && waited < 600 {
                try Coroutine.sleep(for: .milliseconds(50))
                waited += 1
            }
            #expect(succeeded.value.sorted() == (0..<20).map { $0 * $0 })
            #expect(failed.value.count == 1)
            #expect((failed.value.first as? ProcessError)?.code == .remoteError)
            #expect(pool.outstandingCount == 0)
        }
    }

    @Test("A submitted task past its deadline fails its future with TimeoutError and onFailure; close fails the rest")
    func deadlineAndClose() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let queue = uniqueName("submit-deadline")
            let pool = try DistributedPool(url: url, queue: queue)
            // No worker serves the queue: nothing answers.
            let failures = Box<[any Error]>([])
            let late = try pool.submit(Square(3), timeout: .milliseconds(200), onFailure: { failures.value.append($0) })
            #expect(throws: TimeoutError.self) { _ = try late.get(timeout: .seconds(30)) }
            var waited = 0
            while failures.value.isEmpty && waited < 600 {
                try Coroutine.sleep(for: .milliseconds(50))
                waited += 1
            }
            #expect(failures.value.count == 1)
            #expect(failures.value.first is TimeoutError)
            #expect(pool.outstandingCount == 0)

            let forever = try pool.submit(Square(4))
            #expect(pool.outstandingCount == 1)
            pool.close()
            do {
                _ = try forever.get(timeout: .seconds(30))
                Issue.record("a task of a closed pool returned")
            } catch let error as ProcessError {
                #expect(error.code == .closed)
            }
            #expect(throws: ProcessError.self) { _ = try pool.submit(Square(5)) }
            #expect(throws: WeaveError.self) { _ = try pool.submit(Square(5), timeout: .zero) }
        }
    }
}
