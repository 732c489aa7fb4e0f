import Testing
import Weave
import WeaveTestSupport

@Suite("Hub.statistics")
struct HubStatisticsTests {
    @Test("counts live, runnable and spawned coroutines, switches and pending timers")
    func counters() async throws {
        let (queued, parked, finished) = try await onHub { () throws -> (Hub.Statistics, Hub.Statistics, Hub.Statistics) in
            let hub = Hub.current!
            let start = hub.statistics
            let sleepers = try (0..<10).map { _ in try spawn { try Coroutine.sleep(for: .seconds(60)) } }
            let queued = hub.statistics  // spawned, not started: all in the run queue
            try Coroutine.yield()
            let parked = hub.statistics  // each asleep on a timer
            for sleeper in sleepers { sleeper.cancel() }
            for sleeper in sleepers { _ = try? sleeper.join() }
            let finished = hub.statistics
            #expect(queued.spawnedCoroutines == start.spawnedCoroutines + 10)
            #expect(parked.switches > queued.switches)
            return (queued, parked, finished)
        }
        #expect(queued.aliveCoroutines == 11)  // the main body too
        #expect(queued.readyCoroutines == 10)
        #expect(parked.readyCoroutines == 0)
        #expect(parked.pendingTimers == 10)
        #expect(finished.aliveCoroutines == 1)
        #expect(finished.pendingTimers == 0)
    }
}
