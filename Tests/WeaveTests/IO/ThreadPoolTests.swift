import Glibc
import Synchronization
import Testing
@testable import Weave

@Suite("blocking and ThreadPool")
struct ThreadPoolTests {
    @Test("blocking runs off the hub thread while a ticking coroutine keeps ticking")
    func offTheHubThread() async throws {
        let (offThread, ticks, value) = try await onHub { () throws -> (Bool, Int, Int) in
            let hubThread = UInt(pthread_self())
            let ticks = TickCounter()
            let ticker = try spawn { while true { try AnyCoroutine.sleep(for: .milliseconds(1)); ticks.add() } }
            let (thread, value) = try blocking { () -> (UInt, Int) in
                // Holds the pool thread until the hub has ticked a few times (bounded: a hub
                // that never ticks fails the test after 10 s instead of hanging it). A fixed
                // sleep could end before a loaded machine ran the hub at all.
                for _ in 0..<10_000 where ticks.value < 3 { usleep(1_000) }
                return (UInt(pthread_self()), 42)
            }
            ticker.cancel()
            return (thread != hubThread, ticks.value, value)
        }
        #expect(offThread)
        #expect(ticks >= 3)
        #expect(value == 42)
    }

    @Test("errors come back; a cancelled waiter leaves the late result behind safely")
    func errorsAndCancellation() async throws {
        let (caught, cancelled) = try await onHub { () throws -> (Bool, Bool) in
            var caught = false
            do { _ = try blocking { () throws -> Int in throw TestFailure(tag: "pool") } } catch is TestFailure { caught = true }
            let waiter = try spawn { try blocking { usleep(50_000); return 1 } }
            try AnyCoroutine.sleep(for: .milliseconds(5))
            waiter.cancel()
            try waiter.wait()
            // The job finishes after its waiter left; the hub must take the late result calmly.
            try AnyCoroutine.sleep(for: .milliseconds(100))
            return (caught, waiter.error is CancellationError)
        }
        #expect(caught)
        #expect(cancelled)
    }

    @Test("a hub waiting only on the pool is not deadlocked")
    func waitingOnPoolIsNotDeadlock() async throws {
        let value = try await onHub { () throws -> Int in
            try blocking { usleep(30_000); return 7 }
        }
        #expect(value == 7)
    }
}

/// Ticks counted on the hub thread and read from a pool thread.
private final class TickCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
