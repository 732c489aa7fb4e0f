import Testing
import TestTasks
import Weave
import WeaveTestSupport

@Suite("ProcessPool.statistics")
struct ProcessPoolStatisticsTests {
    @Test("queue depth, tasks in flight, and workers replaced after maxTasksPerWorker")
    func figures() async throws {
        let (submitted, done) = try await onHub { () throws -> (ProcessPool.Statistics, ProcessPool.Statistics) in
            let pool = try testPool(workers: 1, maxTasksPerWorker: 2)
            defer { pool.terminate() }
            let results = try (0..<6).map { try pool.submit(Square($0)) }
            let submitted = pool.statistics  // nothing answered before this coroutine parks
            for (index, result) in results.enumerated() { #expect(try result.get() == index * index) }
            // Each worker serves two tasks and is replaced: six tasks, three workers.
            try withTimeout(.seconds(10)) {
                while pool.statistics.startedWorkers < 3 || pool.statistics.workers != 1 { try Coroutine.sleep(for: .milliseconds(2)) }
            }
            return (submitted, pool.statistics)
        }
        #expect(submitted.queuedTasks + submitted.inFlightTasks == 6)
        #expect(submitted.inFlightTasks <= 2)
        #expect(submitted.workerRestarts == 0)
        #expect(done.queuedTasks == 0 && done.inFlightTasks == 0)
        #expect(done.startedWorkers >= 3)
        #expect(done.workerRestarts == done.startedWorkers - 1)
    }
}
