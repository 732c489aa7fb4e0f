import Synchronization
import Testing
import Weave
import WeaveTestSupport

@Suite("awaitAsync: Swift tasks from coroutines")
struct AwaitAsyncTests {
    @Test("a round trip parks only the caller; the hub keeps running others")
    func roundTrip() async throws {
        let (value, ticks) = try await onHub { () throws -> (Int, Int) in
            let ticks = TickCounter()
            let ticker = try spawn(name: "ticker") {
                while true {
                    try Coroutine.sleep(for: .milliseconds(1))
                    ticks.add()
                }
            }
            let value = try awaitAsync { () async throws -> Int in
                // Ends once the hub has ticked while the caller waits (bounded: a hub that
                // never ticks fails the test after 10 s). A fixed sleep could end before a
                // loaded machine ran the hub at all.
                for _ in 0..<10_000 where ticks.value < 3 { try await Task.sleep(for: .milliseconds(1)) }
                return 42
            }
            ticker.cancel()
            return (value, ticks.value)
        }
        #expect(value == 42)
        #expect(ticks >= 3)
    }

    @Test("an idle hub waiting only for a task is not a deadlock")
    func idleWaitIsNotDeadlock() async throws {
        let value = try await onHub { () throws -> String in
            try awaitAsync { () async throws -> String in
                try await Task.sleep(for: .milliseconds(20))
                return "late"
            }
        }
        #expect(value == "late")
    }

    @Test("the task's error is rethrown in the coroutine")
    func errorCrosses() async throws {
        await #expect(throws: TestFailure(tag: "task")) {
            try await onHub { () throws -> Void in
                try awaitAsync { () async throws -> Void in throw TestFailure(tag: "task") }
            }
        }
    }

    @Test("a task's own CancellationError surfaces in the coroutine")
    func taskCancellationSurfaces() async throws {
        await #expect(throws: CancellationError.self) {
            try await onHub { () throws -> Void in
                try awaitAsync { () async throws -> Void in
                    withUnsafeCurrentTask { $0?.cancel() }
                    try Task.checkCancellation()
                }
            }
        }
    }

    @Test("cancelling the coroutine cancels the task")
    func coroutineCancellationCancelsTask() async throws {
        let taskSawCancellation = Flag()
        let outcome = try await onHub { () throws -> String in
            let waiter = try spawn(name: "waiter") { () throws -> Int in
                try awaitAsync { () async throws -> Int in
                    do {
                        try await Task.sleep(for: .seconds(60))
                    } catch is CancellationError {
                        taskSawCancellation.set()
                        throw CancellationError()
                    }
                    return 1
                }
            }
            try Coroutine.sleep(for: .milliseconds(10))
            waiter.cancel()
            do {
                _ = try waiter.join()
                return "returned"
            } catch is CancellationError {
                // The task's result is still outstanding: the hub waits for it, no deadlock.
                try Coroutine.sleep(for: .milliseconds(20))
                return "cancelled"
            }
        }
        #expect(outcome == "cancelled")
        for _ in 0..<200 where !taskSawCancellation.isSet {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(taskSawCancellation.isSet)
    }

    @Test("a timeout cancels the task and throws TimeoutError")
    func timeout() async throws {
        await #expect(throws: TimeoutError.self) {
            try await onHub { () throws -> Void in
                try awaitAsync(timeout: .milliseconds(20)) { () async throws -> Void in
                    try await Task.sleep(for: .seconds(60))
                }
            }
        }
    }

    @Test("outside a coroutine it is a typed error")
    func outsideCoroutine() {
        #expect(throws: WeaveError.self) {
            try awaitAsync { 1 }
        }
    }
}

/// A flag shared across threads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
