import Logging
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("spawnDetached")
struct SpawnDetachedTests {
    @Test("detached coroutines run in spawn order, block, and are joined by a WaitGroup")
    func runAndJoin() async throws {
        let (log, alive) = try await onHub { () throws -> ([String], Int) in
            let log = Box<[String]>([])
            let done = WaitGroup()
            for name in ["a", "b", "c"] {
                try done.add()
                try spawnDetached {
                    log.value.append("\(name)0")
                    try Coroutine.yield()
                    try Coroutine.sleep(for: .milliseconds(1))
                    log.value.append("\(name)1")
                    try done.done()
                }
            }
            log.value.append("spawned")
            try done.wait(timeout: .seconds(10))
            return (log.value, Hub.current!.aliveCount)
        }
        #expect(Array(log.prefix(4)) == ["spawned", "a0", "b0", "c0"])
        #expect(Set(log.dropFirst(4)) == ["a1", "b1", "c1"])
        #expect(alive == 1)  // only the main coroutine
    }

    @Test("with: hands the argument over and releases it once the body is done")
    func argumentIsPassedAndReleased() async throws {
        let (sums, deinits, deinitsWhileRunning) = try await onHub { () throws -> ([Int], Int, [Int]) in
            let sums = Box<[Int]>([])
            let deinits = Box(0)
            let seenWhileRunning = Box<[Int]>([])
            let done = WaitGroup()
            for i in 0..<5 {
                try done.add()
                let token = DeinitCounter { deinits.value += 1 }
                try spawnDetached(with: (i, token, sums, done, deinits, seenWhileRunning)) { i, token, sums, done, deinits, seen in
                    try Coroutine.yield()
                    withExtendedLifetime(token) { sums.value.append(i * 10) }
                    seen.value.append(deinits.value)
                    try done.done()
                }
            }
            try done.wait(timeout: .seconds(10))
            try Coroutine.yield()  // let the last one finish and release its payload
            return (sums.value, deinits.value, seenWhileRunning.value)
        }
        #expect(sums == [0, 10, 20, 30, 40])
        #expect(deinits == 5)
        // Each body ran with its own argument alive; earlier payloads were already released.
        #expect(deinitsWhileRunning == [0, 1, 2, 3, 4])
    }

    @Test("with: runs its payload through a specialised closure when optimised, else through its type")
    func runnerKind() {
        // Optimised callers specialise the payload's runner into a closure that captures
        // nothing; debug builds use the payload type's generic witness. Both leave nothing
        // to release when the coroutine's end never returns (the storm test counts on it).
        #if DEBUG
        #expect(!DetachedPayload<(Int, Box<Int>)>.runner.isClosure)
        #else
        #expect(DetachedPayload<(Int, Box<Int>)>.runner.isClosure)
        #endif
        #expect(!DetachedRunner.of(DetachedBody.self).isClosure)
    }

    @Test("an argument too large for the stack top is carried by a closure, intact")
    func largeArgument() async throws {
        let sum = try await onHub { () throws -> Int in
            let big = (Array(repeating: 0, count: 0), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36)
            #expect(MemoryLayout.size(ofValue: big) > 256)
            let result = Box(0)
            let done = WaitGroup()
            try done.add()
            try spawnDetached(with: (big, result, done)) { big, result, done in
                result.value = big.1 + big.36 + big.0.count
                try done.done()
            }
            try done.wait(timeout: .seconds(10))
            return result.value
        }
        #expect(sum == 37)
    }

    @Test("a body's error is logged once at warning level with the spawn site, later ones at debug; cancellation is not")
    func errorsAreLogged() async throws {
        let capture = MemoryLog()
        var configuration = Hub.Configuration()
        configuration.logger = capture.logger
        let line = try await onHub(configuration: configuration) { () throws -> Int in
            let line = #line + 1
            try spawnDetached { throw TestFailure(tag: "lost") }
            try spawnDetached { throw CancellationError() }
            try Coroutine.sleep(for: .milliseconds(5))
            try spawnDetached { throw TestFailure(tag: "again") }
            try Coroutine.sleep(for: .milliseconds(5))
            return line
        }
        let failures = capture.entries.filter { "\($0.message)".hasPrefix("detached coroutine failed") }
        #expect(failures.map(\.level) == [.warning, .debug])
        let first = try #require(failures.first)
        #expect(first["spawnSite"]?.hasSuffix("SpawnDetachedTests.swift:\(line)") == true)
        #expect(first["error"]?.contains("lost") == true)
        #expect(failures.last?["error"]?.contains("again") == true)
        #expect(!capture.entries.contains { $0.level >= .error })
    }

    @Test("Coroutine.current inside a detached coroutine can be joined and cancelled")
    func objectOnDemand() async throws {
        let (caught, cleanedUp, name, site, sameObject) = try await onHub {
            () throws -> (Bool, Bool, String?, String, Bool) in
            let object = Box<AnyCoroutine?>(nil)
            let sameObject = Box(false)
            let cleanedUp = Box(false)
            let caught = Box(false)
            try spawnDetached {
                object.value = Coroutine.current
                sameObject.value = Coroutine.current === object.value
                defer { cleanedUp.value = true }
                do {
                    try Coroutine.sleep(for: .seconds(60))
                } catch is CancellationError {
                    caught.value = true
                    throw CancellationError()
                }
            }
            try Coroutine.yield()
            let coroutine = try #require(object.value)
            #expect(!coroutine.isFinished)
            coroutine.cancel()
            try joinAll([coroutine], timeout: .seconds(10))
            #expect(coroutine.isFinished)
            #expect(coroutine.isCancelled)
            return (caught.value, cleanedUp.value, coroutine.name, coroutine.spawnSite.fileID, sameObject.value)
        }
        #expect(caught)
        #expect(cleanedUp)
        #expect(name == nil)
        #expect(site == "WeaveTests/SpawnDetachedTests.swift")
        #expect(sameObject)
    }

    @Test("cancelled before it starts, a detached body never runs and its argument is released")
    func cancelBeforeStart() async throws {
        let (ran, deinits, alive) = try await onHub { () throws -> (Bool, Int, Int) in
            let ran = Box(false)
            let deinits = Box(0)
            let hub = Hub.current!
            try spawnDetached(with: (DeinitCounter { deinits.value += 1 }, ran)) { _, ran in ran.value = true }
            // Not started yet: find it among the live coroutines (this makes its object).
            let pending = try #require(hub.liveCoroutines().first { $0 !== Coroutine.current })
            pending.cancel()
            try joinAll([pending], timeout: .seconds(10))
            #expect(pending.failure is CancellationError)
            return (ran.value, deinits.value, hub.aliveCount)
        }
        #expect(!ran)
        #expect(deinits == 1)
        #expect(alive == 1)
    }

    @Test("shutdown cancels detached coroutines and unwinds them")
    func shutdownUnwinds() async throws {
        let unwound = Box(0)
        let sendable = UncheckedBox(unwound)
        try await onHub { () throws -> Void in
            for _ in 0..<10 {
                try spawnDetached {
                    defer { sendable.value.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                }
            }
            try Coroutine.yield()
        }
        #expect(unwound.value == 10)
    }

    @Test("a deadlock report names a parked detached coroutine and its spawn site")
    func deadlockReport() async throws {
        var caught: DeadlockError?
        do {
            try await onHub { () throws -> Void in
                let never = Event()
                let done = WaitGroup()
                try done.add()
                try spawnDetached(name: "stuck") {
                    try never.wait()
                    try done.done()
                }
                try spawnDetached { try never.wait() }  // unnamed
                try done.wait()
            }
        } catch let error as DeadlockError {
            caught = error
        }
        let error = try #require(caught)
        let stuck = try #require(error.waiters.first { $0.name == "stuck" })
        #expect(stuck.spawnSite.fileID == "WeaveTests/SpawnDetachedTests.swift")
        #expect(stuck.waitingOn.contains("Event"))
        // The unnamed one shows as `#id`, with its own spawn site.
        #expect(error.waiters.count == 3)
        #expect(error.waiters.contains { $0.name.hasPrefix("#") && $0.spawnSite.fileID == "WeaveTests/SpawnDetachedTests.swift" })
    }

    @Test("a detached coroutine inherits the spawner's coroutine-locals")
    func inheritsLocals() async throws {
        let seen = try await onHub { () throws -> [String] in
            let local = CoroutineLocal<String>(default: "-")
            let seen = Box<[String]>([])
            let done = WaitGroup()
            try done.add(2)
            try local.withValue("request-7") {
                try spawnDetached { seen.value.append(local.value); try done.done() }
                try spawnDetached(with: seen) { seen in seen.value.append(local.value); try done.done() }
            }
            try spawnDetached { seen.value.append(local.value) }
            try done.wait(timeout: .seconds(10))
            try Coroutine.yield()
            return seen.value
        }
        #expect(seen == ["request-7", "request-7", "-"])
    }

    @Test("a name and a stack size are honoured; bad input is a typed error")
    func namesSizesAndErrors() async throws {
        let (name, sizeError) = try await onHub { () throws -> (String?, WeaveError?) in
            let name = Box<String?>(nil)
            let done = WaitGroup()
            try done.add()
            try spawnDetached(name: "worker-1", stackSize: 64 * 1024) {
                name.value = Coroutine.current?.name
                try done.done()
            }
            try done.wait(timeout: .seconds(10))
            var sizeError: WeaveError?
            do { try spawnDetached(stackSize: 4096) {} } catch let error as WeaveError { sizeError = error }
            return (name.value, sizeError)
        }
        #expect(name == "worker-1")
        #expect(sizeError?.code == .invalidArgument)
        var outside: WeaveError?
        do { try spawnDetached {} } catch let error as WeaveError { outside = error }
        #expect(outside?.code == .notInCoroutine)
    }

    @Test("100k detached spawns leave no coroutine alive and the stack pool within its cap")
    func storm() async throws {
        let (ran, alive, pooled, limit) = try await onHub { () throws -> (Int, Int, Int, Int) in
            let hub = Hub.current!
            let ran = Box(0)
            let done = WaitGroup()
            for _ in 0..<100 {
                try done.add(1000)
                for _ in 0..<1000 {
                    try spawnDetached(with: (ran, done)) { ran, done in
                        try Coroutine.yield()
                        ran.value += 1
                        try done.done()
                    }
                }
                try done.wait(timeout: .seconds(30))
            }
            try Coroutine.yield()
            return (ran.value, hub.aliveCount, hub.pooledStackCount, hub.stackPoolLimit)
        }
        #expect(ran == 100_000)
        #expect(alive == 1)
        #expect(pooled <= limit)
    }
}

/// Hands a hub-thread-only box to a `@Sendable` body that runs on that one thread.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
