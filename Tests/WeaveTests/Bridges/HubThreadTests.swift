import Synchronization
import Testing
import Weave
@testable import WeaveBridges

@Suite("HubThread and CoroutineHandle: coroutines from Swift concurrency")
struct HubThreadTests {
    @Test("run returns the coroutine's value, and rethrows its error")
    func roundTrip() async throws {
        let hubThread = try HubThread(name: "test-hub")
        let value = try await hubThread.run(name: "double") { () throws -> Int in
            try Coroutine.sleep(for: .milliseconds(5))
            return 21 * 2
        }
        #expect(value == 42)
        await #expect(throws: TestFailure(tag: "body")) {
            try await hubThread.run { () throws -> Void in throw TestFailure(tag: "body") }
        }
        // A coroutine on the hub thread can itself await async work: both directions at once.
        let nested = try await hubThread.run { () throws -> String in
            try awaitAsync { () async throws -> String in "nested" }
        }
        #expect(nested == "nested")
        try await hubThread.shutdown()
    }

    @Test("a HubThread that has stopped and been dropped frees what it started with")
    func nothingKeptAfterShutdown() async throws {
        weak var queue: RemoteQueue?
        do {
            let hubThread = try HubThread(name: "short-lived")
            queue = hubThread.remote
            _ = try await hubThread.run { 1 }
            try await hubThread.shutdown()
        }
        // The hub thread may still be returning from its body (bounded generously).
        for _ in 0..<2_500 where queue != nil { try await Task.sleep(for: .milliseconds(2)) }
        #expect(queue == nil)
    }

    @Test("cancelling the awaiting task cancels the coroutine, which unwinds")
    func taskCancellationCancelsCoroutine() async throws {
        let hubThread = try HubThread()
        let unwound = Flag()
        let started = Flag()
        let task = Task {
            try await hubThread.run(name: "sleeper") { () throws -> Int in
                defer { unwound.set() }
                started.set()
                try Coroutine.sleep(for: .seconds(60))
                return 1
            }
        }
        for _ in 0..<500 where !started.isSet { try await Task.sleep(for: .milliseconds(2)) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(unwound.isSet)
        try await hubThread.shutdown()
    }

    @Test("a Swift task awaits 1,000 coroutines concurrently")
    func thousandCoroutines() async throws {
        let hubThread = try HubThread(name: "thousand")
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 1...1000 {
                group.addTask {
                    try await hubThread.run { () throws -> Int in
                        try Coroutine.sleep(for: .milliseconds(10))
                        return index
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == 500_500)
        let dump = try await hubThread.dump()
        #expect(dump.coroutines.count == 1)  // only the hub thread's main coroutine is left
        try await hubThread.shutdown()
    }

    @Test("handles made on the hub are awaited from tasks; cancel() crosses threads")
    func handles() async throws {
        let hubThread = try HubThread()
        let handles = try await hubThread.run { () throws -> [CoroutineHandle<Int>] in
            let gate = Event(label: "gate")
            var handles: [CoroutineHandle<Int>] = []
            for index in 0..<100 {
                handles.append(try spawn(name: "worker \(index)") { () throws -> Int in
                    try gate.wait()
                    return index
                }.handle())
            }
            try spawn(name: "opener") {
                try Coroutine.sleep(for: .milliseconds(20))
                gate.set()
            }
            return handles
        }
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for handle in handles { group.addTask { try await handle.value } }
            return try await group.reduce(0, +)
        }
        #expect(sum == 4950)
        #expect(handles.allSatisfy { $0.isFinished })

        let sleeper = try await hubThread.spawn(name: "long") { () throws -> Void in
            try Coroutine.sleep(for: .seconds(60))
        }
        sleeper.cancel()
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        try await hubThread.shutdown()
    }

    @Test("shutdown cancels what still runs; later submissions fail with hubClosed")
    func shutdown() async throws {
        let hubThread = try HubThread(name: "stopping")
        let pending = try await hubThread.spawn { () throws -> Void in
            try Coroutine.sleep(for: .seconds(60))
        }
        try await hubThread.shutdown()
        await #expect(throws: CancellationError.self) { try await pending.value }
        do {
            _ = try await hubThread.run { 1 }
            Issue.record("run after shutdown returned")
        } catch let error as WeaveError {
            #expect(error.code == .hubClosed)
        }
        try await hubThread.shutdown()  // again: just waits
    }

    @Test("an invalid configuration is a typed error from init")
    func badConfiguration() {
        var configuration = Hub.Configuration()
        configuration.stackSize = 1
        #expect(throws: WeaveError.self) { try HubThread(configuration: configuration) }
    }
}
