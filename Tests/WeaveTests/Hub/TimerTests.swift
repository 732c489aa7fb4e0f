import CLibUV
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// Burns CPU without blocking, so the hub's loop cannot run (timers fall due meanwhile).
private func spin(for duration: Duration) {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < duration {}
}

@Suite("timers")
struct TimerTests {
    @Test("a sleep never returns before its duration, whole milliseconds or not")
    func neverEarly() async throws {
        let early = try await onHub { () throws -> [Duration] in
            var early: [Duration] = []
            let durations: [Duration] = [.microseconds(300), .milliseconds(1), .microseconds(1_700), .milliseconds(2),
                                         .microseconds(2_500), .milliseconds(5)]
            for _ in 0..<5 {
                for duration in durations {
                    let start = ContinuousClock.now
                    try Coroutine.sleep(for: duration)
                    let elapsed = ContinuousClock.now - start
                    if elapsed < duration { early.append(duration - elapsed) }
                }
            }
            return early
        }
        #expect(early.isEmpty)
    }

    @Test("a fresh process's first sleep fits a 16 KiB coroutine stack (child process)")
    func firstSleepOnSmallStack() async {
        // Process-wide: the timer heap's generic metadata must not be instantiated on the
        // first sleeper's stack (the runtime's lookup needs more than 10 KiB of it).
        await #expect(processExitsWith: .success) {
            try Hub.run {
                try spawn(stackSize: 16 * 1024) { try Coroutine.sleep(for: .milliseconds(1)) }.join()
            }
        }
    }

    @Test("the uv timer is armed for the time left, not a millisecond more")
    func armsForTheTimeLeft() async throws {
        // libuv's poll waits for its timer's expiry minus its cached clock. That must be the
        // 5 ms left (4 if a millisecond went by meanwhile), not 6 (the cached clock is
        // rounded down, and rounding the delay up again added a millisecond to every sleep).
        let waits = try await onHub { () throws -> [Int64] in
            let hub = Hub.current!
            var waits: [Int64] = []
            for _ in 0..<5 {
                let timer = hub.addTimer(deadline: Hub.now() + 5_000_000, .callback {})
                hub.armTimer()
                // What libuv's poll waits (`uv__next_timeout`): the expiry less the cached clock.
                waits.append(Int64(hub.timerHandle.pointee.timeout) - Int64(uv_now(hub.loop)))
                hub.removeTimer(timer)
                try Coroutine.yield()
            }
            return waits
        }
        #expect(waits.allSatisfy { (1...5).contains($0) }, "poll timeouts: \(waits)")
    }

    @Test("the delay given to libuv is the time left rounded up to whole milliseconds")
    func delayRoundsUp() {
        let now: UInt64 = 7_123_456_789
        #expect(Hub.timerDelay(now: now, deadline: now - 1) == 0)
        #expect(Hub.timerDelay(now: now, deadline: now) == 0)
        #expect(Hub.timerDelay(now: now, deadline: now + 1) == 1)
        #expect(Hub.timerDelay(now: now, deadline: now + 999_999) == 1)
        #expect(Hub.timerDelay(now: now, deadline: now + 1_000_000) == 1)
        #expect(Hub.timerDelay(now: now, deadline: now + 5_000_000) == 5)
        #expect(Hub.timerDelay(now: now, deadline: now + 5_000_001) == 6)
        #expect(Hub.timerDelay(now: now, deadline: .max) == (UInt64.max - now + 999_999) / 1_000_000)
    }

    @Test("a value put before a get's timeout wins, even when both deadlines pass in one loop turn")
    func resultDueFirstWins() async throws {
        let outcomes = try await onHub { () throws -> [String] in
            var outcomes: [String] = []
            for round in 0..<20 {
                let queue = Queue<Int>()
                let putter = try spawn { () throws -> Void in
                    try Coroutine.sleep(for: .milliseconds(2))
                    try queue.put(round)
                }
                let getter = try spawn { () throws -> String in
                    do {
                        if round % 2 == 0 {
                            return "got \(try withTimeout(.milliseconds(3)) { try queue.get() })"
                        }
                        return "got \(try queue.get(timeout: .milliseconds(3)))"
                    } catch is TimeoutError {
                        return "timed out"
                    }
                }
                try Coroutine.yield()  // both park: the getter in get, the putter in sleep
                spin(for: .milliseconds(6))  // both deadlines pass before the loop runs again
                outcomes.append(try getter.join())
                try putter.join()
            }
            return outcomes
        }
        #expect(outcomes == (0..<20).map { "got \($0)" })
    }

    @Test("on an idle hub, withTimeout(3 ms) around get loses to a put due at 2 ms")
    func idleHubValueWins() async throws {
        let wins = try await onHub { () throws -> Int in
            var wins = 0
            for _ in 0..<20 {
                let queue = Queue<Int>()
                // Due 2 ms from now by this coroutine's clock, whenever the putter starts.
                let putAt = ContinuousClock.now + .milliseconds(2)
                let putter = try spawn { () throws -> Void in
                    try Coroutine.sleep(until: putAt)
                    try queue.put(1)
                }
                if (try? withTimeout(.milliseconds(3)) { try queue.get() }) != nil { wins += 1 }
                try putter.join()
            }
            return wins
        }
        // On a loaded machine the hub's thread may lose the CPU for a millisecond, and then
        // both deadlines pass together: the batch rule above still lets the value win. Under
        // heavy load (other suites spinning hubs on both cores) one round in 20 has been seen
        // lost to the scheduler; the rounding bug this guards against lost most rounds.
        #expect(wins >= 18)
    }

    @Test("a coroutine woken by its timer runs before a backlog of coroutines that have not started")
    func wakeupsRunBeforeFirstRuns() async throws {
        let backlog = 4_000
        let position = try await onHub { () throws -> Int? in
            let order = Box<[Int]>([])
            let sleeper = try spawn { () throws -> Void in
                try Coroutine.sleep(for: .milliseconds(1))
                order.value.append(-1)
            }
            try Coroutine.yield()  // the sleeper parks
            spin(for: .milliseconds(3))  // its deadline passes
            var handles: [AnyCoroutine] = [sleeper]
            for index in 0..<backlog {
                handles.append(try spawn { order.value.append(index) })
            }
            try joinAll(handles)
            return order.value.firstIndex(of: -1)
        }
        // The loop is polled every 256 dispatches (the default `pollInterval`): the sleeper
        // must run right after that poll, not after all 4,000 first runs.
        let ranAt = try #require(position)
        #expect(ranAt <= 2 * Hub.Configuration().pollInterval, "the woken sleeper ran after \(ranAt) first runs")
    }

    @Test("coroutines that keep waking each other do not starve new or yielding ones")
    func noStarvation() async throws {
        let (newRanAfter, yielderRanAfter) = try await onHub { () throws -> (Int, Int) in
            let rounds = 20_000
            let ping = Queue<Int>(), pong = Queue<Int>()
            let count = Box(0)
            let a = try spawn { () throws -> Void in
                for i in 0..<rounds { try ping.put(i); _ = try pong.get(); count.value += 1 }
            }
            let b = try spawn { () throws -> Void in
                for _ in 0..<rounds { _ = try ping.get(); try pong.put(0) }
            }
            try Coroutine.yield()  // the ping-pong is under way
            let newRan = Box(-1)
            let fresh = try spawn { newRan.value = count.value }
            try Coroutine.yield()
            let yielderRanAfter = count.value
            try joinAll([a, b, fresh])
            return (newRan.value, yielderRanAfter)
        }
        #expect(newRanAfter >= 0 && newRanAfter < 1_000)
        #expect(yielderRanAfter < 1_000)
    }
}

@Suite("TimerHeap")
struct TimerHeapTests {
    /// splitmix64: a fixed sequence, so a failure reproduces.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("random inserts, removes and pops match a sorted model, ties first-in first-out")
    func matchesSortedModel() throws {
        var random = Generator(state: 42)
        var heap = TimerHeap()
        // The model: (deadline, insertion number) of every pending timer, and each one's handle.
        var model: [(deadline: UInt64, order: Int, node: TimerNode)] = []
        var fired: [Int] = []
        var removedHandles: [TimerNode] = []
        var order = 0
        for step in 0..<40_000 {
            let roll = random.next() % 10
            if roll < 5 {
                // Few distinct deadlines, so ties are common.
                let deadline = random.next() % 500
                let number = order
                let node = heap.insert(deadline: deadline, .callback { fired.append(number) })
                model.append((deadline, number, node))
                order += 1
            } else if roll < 8, !model.isEmpty {
                let index = Int(random.next() % UInt64(model.count))
                let removed = heap.remove(model[index].node)
                #expect(removed)
                removedHandles.append(model.remove(at: index).node)
            } else if let first = heap.first() {
                let expected = model.min { ($0.deadline, $0.order) < ($1.deadline, $1.order) }!
                #expect(first.deadline == expected.deadline)
                guard case .callback(let body)? = heap.popFirst() else {
                    Issue.record("no action at step \(step)")
                    return
                }
                body()
                #expect(fired.last == expected.order, "step \(step)")
                model.removeAll { $0.order == expected.order }
                removedHandles.append(expected.node)
            }
            #expect(heap.count == model.count)
            // A handle whose timer is gone (fired or removed) stays gone, even once its
            // slot holds another timer.
            if step % 97 == 0, let stale = removedHandles.randomElement(using: &random) {
                let removedAgain = heap.remove(stale)
                #expect(!removedAgain)
                #expect(heap.count == model.count)
            }
        }
        let expected = model.sorted { ($0.deadline, $0.order) < ($1.deadline, $1.order) }
        #expect(heap.liveDeadlinesInOrder() == expected.map(\.deadline))
        fired.removeAll()
        while case .callback(let body)? = heap.popFirst() { body() }
        #expect(fired == expected.map(\.order))
        let left = heap.first()
        #expect(heap.isEmpty && left == nil)
    }

    @Test("a wake-up timer is not interrupting; every other kind is")
    func interruptingKinds() async throws {
        let kinds = try await onHub { () throws -> [Bool] in
            var heap = TimerHeap()
            let coroutine = Coroutine.current!
            _ = heap.insert(deadline: 1, .wake(coroutine.fiber!))
            _ = heap.insert(deadline: 2, .failWait(coroutine, .sleep, .seconds(1)))
            _ = heap.insert(deadline: 3, .callback {})
            var kinds: [Bool] = []
            while let first = heap.first() {
                kinds.append(first.interrupts)
                _ = heap.popFirst()
            }
            return kinds
        }
        #expect(kinds == [false, true, true])
    }
}
