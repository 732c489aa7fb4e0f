import Testing
import Weave
import WeaveTestSupport

@Suite("cancellation")
struct CancellationTests {
    @Test("a coroutine cancelled before it starts never runs")
    func cancelBeforeStart() async throws {
        let ran = try await onHub { () throws -> Bool in
            let ran = Box(false)
            let child = try spawn { ran.value = true }
            child.cancel()
            try child.wait()
            #expect(child.error is CancellationError)
            return ran.value
        }
        #expect(!ran)
    }

    @Test("cancel during sleep unwinds promptly, running defer and deinit")
    func cancelDuringSleep() async throws {
        let (defers, deinits, elapsed) = try await onHub { () throws -> (Int, Int, Duration) in
            let defers = Box(0)
            let deinits = Box(0)
            var sleepers: [Coroutine<Void>] = []
            for _ in 0..<10 {
                sleepers.append(try spawn {
                    let guardObject = DeinitCounter { deinits.value += 1 }
                    defer { defers.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                    withExtendedLifetime(guardObject) {}
                })
            }
            try Coroutine.yield()
            let start = ContinuousClock.now
            for sleeper in sleepers { sleeper.cancel() }
            try joinAll(sleepers)
            #expect(sleepers.allSatisfy { $0.error is CancellationError })
            return (defers.value, deinits.value, ContinuousClock.now - start)
        }
        #expect(defers == 10)
        #expect(deinits == 10)
        #expect(elapsed < .seconds(30))
    }

    @Test("cancel during join throws CancellationError in the joiner only")
    func cancelDuringJoin() async throws {
        let (joinerError, targetFinishedCleanly) = try await onHub { () throws -> (Bool, Bool) in
            let target = try spawn(name: "target") { try Coroutine.sleep(for: .milliseconds(30)) }
            let joiner = try spawn(name: "joiner") { try target.join() }
            try Coroutine.yield()
            joiner.cancel()
            try joiner.wait()
            try target.join()
            return (joiner.error is CancellationError, target.error == nil)
        }
        #expect(joinerError)
        #expect(targetFinishedCleanly)
    }

    @Test("once cancelled, every blocking call throws at once")
    func stickyCancellation() async throws {
        let attempts = try await onHub { () throws -> Int in
            let attempts = Box(0)
            let child = try spawn {
                for _ in 0..<3 {
                    do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError { attempts.value += 1 }
                }
                try Coroutine.yield()
            }
            try Coroutine.yield()
            child.cancel()
            try child.wait()
            #expect(child.error is CancellationError)
            return attempts.value
        }
        #expect(attempts == 3)
    }

    @Test("100,000 spawn/cancel cycles leave no coroutine alive and the stack pool within its cap")
    func spawnCancelStorm() async throws {
        let (alive, pooled, limit, inUse) = try await onHub { () throws -> (Int, Int, Int, Int) in
            let hub = Hub.current!
            var batch: [Coroutine<Void>] = []
            for round in 0..<100 {
                batch.removeAll(keepingCapacity: true)
                for _ in 0..<1_000 {
                    batch.append(try spawn { try Coroutine.sleep(for: .seconds(60)) })
                }
                if round % 2 == 0 { try Coroutine.yield() }  // half start, half are cancelled unstarted
                for coroutine in batch { coroutine.cancel() }
                try joinAll(batch)
            }
            return (hub.aliveCount, hub.pooledStackCount, hub.stackPoolLimit, hub.stacksInUse)
        }
        #expect(alive == 1)
        #expect(inUse == 1)
        #expect(pooled <= limit)
    }

    @Test("when run's body returns, the coroutines left are cancelled and unwound")
    func shutdownCancelsLeftovers() async throws {
        let counts = try await onHub { () throws -> Box<Int> in
            let unwound = Box(0)
            for _ in 0..<5 {
                try spawn {
                    defer { unwound.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                }
            }
            try Coroutine.yield()
            return unwound
        }
        #expect(counts.value == 5)
    }
}

extension Box: @unchecked Sendable {}
