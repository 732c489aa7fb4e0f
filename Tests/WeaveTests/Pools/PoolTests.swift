import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// The natural numbers, forever, counting how often the iterator was advanced.
struct CountingNaturals: Sequence, IteratorProtocol {
    let advanced: Box<Int>
    private var current = 0

    init(advanced: Box<Int>) {
        self.advanced = advanced
    }

    mutating func next() -> Int? {
        advanced.value += 1
        defer { current += 1 }
        return current
    }
}

@Suite("Pool")
struct PoolTests {
    @Test("the bound is never exceeded: 200 tasks through a pool of 5, by spawn and by map")
    func boundNeverExceeded() async throws {
        let (spawnPeak, spawnRan, mapPeak, mapped) = try await onHub { () throws -> (Int, Int, Int, [Int]) in
            let pool = Pool(size: 5, label: "bounded")
            let inside = Box(0)
            let peak = Box(0)
            let ran = Box(0)
            for index in 0..<200 {
                try pool.spawn {
                    inside.value += 1
                    peak.value = max(peak.value, inside.value)
                    try Coroutine.sleep(for: .milliseconds(index % 3))
                    inside.value -= 1
                    ran.value += 1
                }
                #expect(pool.count <= 5)
            }
            try pool.join(timeout: .seconds(30))
            #expect(pool.count == 0 && pool.freeCount == 5 && pool.isEmpty)
            let spawnPeak = peak.value
            peak.value = 0
            let mapped = try pool.map(0..<200) { index -> Int in
                inside.value += 1
                peak.value = max(peak.value, inside.value)
                try Coroutine.sleep(for: .milliseconds(index % 3))
                inside.value -= 1
                return index
            }
            return (spawnPeak, ran.value, peak.value, mapped)
        }
        #expect(spawnPeak == 5)
        #expect(spawnRan == 200)
        #expect(mapPeak == 5)
        #expect(mapped == Array(0..<200))
    }

    @Test("spawn blocks while the pool is full and resumes when a slot frees")
    func spawnBlocksWhenFull() async throws {
        let (blockedWhileFull, spawnedAfter, ranNew) = try await onHub { () throws -> (Bool, Bool, Bool) in
            let pool = Pool(size: 2, label: "gate")
            let firstGate = Event()
            let secondGate = Event()
            try pool.spawn { try firstGate.wait() }
            try pool.spawn { try secondGate.wait() }
            #expect(pool.isFull)
            #expect(pool.freeCount == 0)
            #expect(pool.count == 2)
            #expect(pool.description == "Pool 'gate' (2 of 2 busy)")
            let spawned = Box(false)
            let ran = Box(false)
            let spawner = try spawn(name: "spawner") {
                try pool.spawn { ran.value = true }
                spawned.value = true
            }
            try Coroutine.sleep(for: .milliseconds(5))
            let blockedWhileFull = !spawned.value
            firstGate.set()
            try spawner.join(timeout: .seconds(5))
            let spawnedAfter = spawned.value
            secondGate.set()
            try pool.join(timeout: .seconds(5))
            #expect(pool.count == 0)
            #expect(pool.freeCount == 2)
            return (blockedWhileFull, spawnedAfter, ran.value)
        }
        #expect(blockedWhileFull)
        #expect(spawnedAfter)
        #expect(ranNew)
    }

    @Test("waiting spawners get freed slots first come, first served; a timed-out spawner spawns nothing")
    func spawnersFIFO() async throws {
        let (order, timedOut, countAfterTimeout) = try await onHub { () throws -> ([Int], Bool, Int) in
            let pool = Pool(size: 1, label: "fifo")
            let gates = (0..<4).map { _ in Event() }
            try pool.spawn { try gates[0].wait() }
            var timedOut = false
            do {
                try pool.spawn(timeout: .milliseconds(5)) {}
            } catch is TimeoutError {
                timedOut = true
            }
            let countAfterTimeout = pool.count
            let order = Box<[Int]>([])
            let spawners = try (1...3).map { index in
                try spawn(name: "spawner \(index)") {
                    try pool.spawn { order.value.append(index); try gates[index].wait() }
                }
            }
            try Coroutine.yield()
            for gate in gates {
                gate.set()
                try Coroutine.sleep(for: .milliseconds(1))
            }
            try joinAll(spawners, timeout: .seconds(5))
            try pool.join(timeout: .seconds(5))
            return (order.value, timedOut, countAfterTimeout)
        }
        #expect(order == [1, 2, 3])
        #expect(timedOut)
        #expect(countAfterTimeout == 1)
    }

    @Test("map returns results in input order")
    func mapOrdered() async throws {
        let (values, empty) = try await onHub { () throws -> ([Int], [Int]) in
            let pool = Pool(size: 4)
            // Later items finish first, so completion order differs from input order.
            let values = try pool.map(0..<20) { index -> Int in
                try Coroutine.sleep(for: .milliseconds((20 - index) % 5))
                return index * index
            }
            let empty = try pool.map([Int]()) { $0 }
            return (values, empty)
        }
        #expect(values == (0..<20).map { $0 * $0 })
        #expect(empty.isEmpty)
    }

    @Test("map: the first error cancels the running items, stops the input and is rethrown")
    func mapFirstErrorCancels() async throws {
        let outcome = try await onHub { () throws -> (TestFailure?, Int, Int, Int, Int, Int) in
            let pool = Pool(size: 3, label: "failing")
            let consumed = Box(0)
            let started = Box(0)
            let cancelled = Box(0)
            let finishedLate = Box(0)
            let input = (0..<50).lazy.map { index -> Int in
                consumed.value += 1
                return index
            }
            var caught: TestFailure?
            do {
                _ = try pool.map(input) { index -> Int in
                    started.value += 1
                    if index < 4 { return index }
                    if index == 4 {
                        try Coroutine.sleep(for: .milliseconds(2))
                        throw TestFailure(tag: "item 4")
                    }
                    do {
                        try Coroutine.sleep(for: .seconds(60))
                    } catch is CancellationError {
                        cancelled.value += 1
                        throw CancellationError()
                    }
                    finishedLate.value += 1
                    return index
                }
            } catch let error as TestFailure {
                caught = error
            }
            return (caught, consumed.value, started.value, cancelled.value, finishedLate.value, pool.count)
        }
        let (caught, consumed, started, cancelled, finishedLate, countAfter) = outcome
        #expect(caught == TestFailure(tag: "item 4"))
        // Items 0...4 and at most `size` more were taken: the rest of the input was not.
        #expect(consumed >= 5 && consumed <= 8)
        #expect(started <= consumed)
        // Every item after 4 that started was cancelled; none ran to completion.
        #expect(cancelled == started - 5)
        #expect(cancelled >= 1)
        #expect(finishedLate == 0)
        // Cancelled items were waited for before map threw.
        #expect(countAfter == 0)
    }

    @Test("map: items cancelled by a failure before they start never run")
    func mapFailureBeforeOthersStart() async throws {
        let (caught, ran, countAfter) = try await onHub { () throws -> (TestFailure?, [Int], Int) in
            let pool = Pool(size: 3)
            let ran = Box<[Int]>([])
            var caught: TestFailure?
            do {
                // Items 0, 1 and 2 are spawned together; 0 runs first and fails at once.
                _ = try pool.map(0..<10) { index -> Int in
                    ran.value.append(index)
                    if index == 0 { throw TestFailure(tag: "zero") }
                    return index
                }
            } catch let error as TestFailure {
                caught = error
            }
            return (caught, ran.value, pool.count)
        }
        #expect(caught == TestFailure(tag: "zero"))
        #expect(ran == [0])
        #expect(countAfter == 0)
    }

    @Test("imap yields in input order and consumes an infinite input lazily")
    func imapOrderedAndLazy() async throws {
        let outcome = try await onHub { () throws -> ([Int], Int, Int, Int, Int, Int) in
            let pool = Pool(size: 4, label: "lazy")
            let advanced = Box(0)
            // Every fifth item is slow, so later ones finish first and wait to be returned.
            let results = pool.imap(CountingNaturals(advanced: advanced)) { value -> Int in
                try Coroutine.sleep(for: .milliseconds(value % 5 == 0 ? 4 : value % 2))
                return value * 2
            }
            let advancedBefore = advanced.value
            var values: [Int] = []
            var mostAhead = 0
            var mostRunning = 0
            while values.count < 20, let value = try results.next() {
                values.append(value)
                mostAhead = max(mostAhead, advanced.value - values.count)
                mostRunning = max(mostRunning, pool.count)
            }
            results.close()
            #expect(try results.next() == nil)
            return (values, advancedBefore, advanced.value, mostAhead, mostRunning, pool.count)
        }
        let (values, advancedBefore, advanced, mostAhead, mostRunning, countAfterClose) = outcome
        #expect(values == (0..<20).map { $0 * 2 })
        #expect(advancedBefore == 0)
        #expect(advanced <= 20 + 4)
        // Items taken and not yet returned never exceed the pool's size.
        #expect(mostAhead <= 4)
        #expect(mostRunning <= 4)
        #expect(countAfterClose == 0)
    }

    @Test("imap over (0...).lazy.map: stop after a prefix, the dropped iteration cancels its items")
    func imapInfiniteLazyMapPrefix() async throws {
        let (values, advanced, unwound, started) = try await onHub { () throws -> ([Int], Int, Int, Int) in
            let pool = Pool(size: 3)
            let advanced = Box(0)
            let unwound = Box(0)
            let started = Box(0)
            let input = (0...).lazy.map { value -> Int in
                advanced.value += 1
                return value
            }
            var values: [Int] = []
            do {
                let results = pool.imap(input) { value -> Int in
                    started.value += 1
                    if value >= 10 {
                        // Never finishes on its own: only cancellation ends it.
                        defer { unwound.value += 1 }
                        try Coroutine.sleep(for: .seconds(60))
                    }
                    return value + 100
                }
                while let value = try results.next() {
                    values.append(value)
                    if values.count == 10 { break }
                }
            }
            // The iteration is gone: its running items were cancelled, and unwind.
            try pool.join(timeout: .seconds(5))
            return (values, advanced.value, unwound.value, started.value)
        }
        #expect(values == Array(100..<110))
        #expect(advanced <= 10 + 3)
        #expect(unwound == started - 10)
    }

    @Test("imapUnordered yields in completion order, within the bound")
    func imapUnorderedCompletionOrder() async throws {
        let (order, bounded, advanced) = try await onHub { () throws -> ([Int], [Int], Int) in
            let pool = Pool(size: 4, label: "unordered")
            let gates = (0..<4).map { _ in Event() }
            let results = pool.imapUnordered(0..<4) { index -> Int in
                try gates[index].wait()
                return index
            }
            let opener = try spawn(name: "opener") {
                for index in [2, 0, 3, 1] {
                    gates[index].set()
                    try Coroutine.sleep(for: .milliseconds(1))
                }
            }
            var order: [Int] = []
            while let index = try results.next() { order.append(index) }
            try opener.join()

            let advanced = Box(0)
            let infinite = pool.imapUnordered(CountingNaturals(advanced: advanced)) { value -> Int in
                try Coroutine.sleep(for: .milliseconds(value % 3))
                return value
            }
            var bounded: [Int] = []
            while bounded.count < 10, let value = try infinite.next() { bounded.append(value) }
            infinite.close()
            return (order, bounded, advanced.value)
        }
        #expect(order == [2, 0, 3, 1])
        #expect(bounded.count == 10)
        #expect(Set(bounded).count == 10)
        #expect(advanced <= 10 + 4)
    }

    @Test("imap yields strictly in input order and throws only at the failing index (gevent's imap)")
    func imapThrowsAtFailingIndex() async throws {
        let outcome = try await onHub { () throws -> ([Int], TestFailure?, Int, Int, Int?, Int) in
            let pool = Pool(size: 8)
            let threeDone = Event()
            let fourFailed = Box(false)
            let cancelled = Box(0)
            let finishedLate = Box(0)
            let results = pool.imap(0..<8) { index -> Int in
                switch index {
                case 3:
                    try Coroutine.sleep(for: .milliseconds(1))
                    threeDone.set()
                    return 3
                case 4:
                    // Fails only once item 3 has finished, its result not yet read.
                    try threeDone.wait()
                    fourFailed.value = true
                    throw TestFailure(tag: "four")
                case 5...:
                    do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError {
                        cancelled.value += 1
                        throw CancellationError()
                    }
                    finishedLate.value += 1
                    return index
                default:
                    return index
                }
            }
            var values: [Int] = []
            for _ in 0..<3 { values.append(try results.next()!) }
            for _ in 0..<10_000 where !fourFailed.value { try Coroutine.sleep(for: .milliseconds(1)) }
            var caught: TestFailure?
            do {
                while let value = try results.next() { values.append(value) }
            } catch let error as TestFailure {
                caught = error
            }
            return (values, caught, cancelled.value, finishedLate.value, try results.next(), pool.count)
        }
        let (values, caught, cancelled, finishedLate, afterError, countAfter) = outcome
        #expect(values == [0, 1, 2, 3])
        #expect(caught == TestFailure(tag: "four"))
        // The items after the failing index could never be returned: cancelled, none ran on.
        #expect(cancelled == 3)
        #expect(finishedLate == 0)
        #expect(afterError == nil)
        #expect(countAfter == 0)
    }

    @Test("imap: an item before the failing index runs on and is returned before the error")
    func imapEarlierItemRunsOn() async throws {
        let (values, caught, oneCancelled, countAfter) = try await onHub {
            () throws -> ([Int], TestFailure?, Bool, Int) in
            let pool = Pool(size: 2)
            let twoFailed = Event()
            let oneCancelled = Box(false)
            let results = pool.imap(0..<10) { index -> Int in
                if index == 1 {
                    do { try twoFailed.wait() } catch is CancellationError {
                        oneCancelled.value = true
                        throw CancellationError()
                    }
                }
                if index == 2 {
                    defer { twoFailed.set() }
                    throw TestFailure(tag: "two")
                }
                return index
            }
            // Returning item 0 starts item 2, which fails while item 1 (earlier in input
            // order) still runs: item 1 is owed first.
            var values = [try results.next()!]
            var caught: TestFailure?
            do {
                while let value = try results.next() { values.append(value) }
            } catch let error as TestFailure {
                caught = error
            }
            return (values, caught, oneCancelled.value, pool.count)
        }
        #expect(values == [0, 1])
        #expect(caught == TestFailure(tag: "two"))
        #expect(!oneCancelled)
        #expect(countAfter == 0)
    }

    @Test("imap: a failure at an earlier index, even if later, is the one thrown")
    func imapEarlierFailureWins() async throws {
        let (values, caught) = try await onHub { () throws -> ([Int], TestFailure?) in
            let pool = Pool(size: 4)
            let threeFailed = Event()
            let results = pool.imap(0..<4) { index -> Int in
                if index == 1 {
                    try threeFailed.wait()
                    throw TestFailure(tag: "one")
                }
                if index == 3 {
                    defer { threeFailed.set() }
                    throw TestFailure(tag: "three")
                }
                return index
            }
            var values: [Int] = []
            var caught: TestFailure?
            do {
                while let value = try results.next() { values.append(value) }
            } catch let error as TestFailure {
                caught = error
            }
            return (values, caught)
        }
        #expect(values == [0])
        #expect(caught == TestFailure(tag: "one"))
    }

    @Test("imapUnordered returns what finished before a failure, then throws it; later items are cancelled")
    func imapUnorderedThrowsInCompletionOrder() async throws {
        let (values, caught, cancelled, countAfter) = try await onHub { () throws -> ([Int], TestFailure?, Int, Int) in
            let pool = Pool(size: 4)
            let bothDone = WaitGroup()
            try bothDone.add(2)
            let threeStarted = Event()
            let failed = Box(false)
            let cancelled = Box(0)
            let results = pool.imapUnordered(0..<4) { index -> Int in
                switch index {
                case 0, 1:
                    try bothDone.done()
                    return index
                case 2:
                    try bothDone.wait()
                    try threeStarted.wait()
                    failed.value = true
                    throw TestFailure(tag: "two")
                default:
                    threeStarted.set()
                    do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError {
                        cancelled.value += 1
                        throw CancellationError()
                    }
                    return index
                }
            }
            // The first `next` starts the items; read on only once the failure has happened.
            var values = [try results.next()!]
            for _ in 0..<10_000 where !failed.value { try Coroutine.sleep(for: .milliseconds(1)) }
            var caught: TestFailure?
            do {
                while let value = try results.next() { values.append(value) }
            } catch let error as TestFailure {
                caught = error
            }
            return (values, caught, cancelled.value, pool.count)
        }
        #expect(values.sorted() == [0, 1])
        #expect(caught == TestFailure(tag: "two"))
        #expect(cancelled == 1)
        #expect(countAfter == 0)
    }

    @Test("next(timeout:) times out without ending the iteration")
    func imapPerCallTimeout() async throws {
        let (timedOut, value, operation) = try await onHub { () throws -> (Bool, Int?, String) in
            let pool = Pool(size: 1, label: "slow")
            let gate = Event()
            let results = pool.imap([7]) { value -> Int in
                try gate.wait()
                return value
            }
            var timedOut = false
            var operation = ""
            do {
                _ = try results.next(timeout: .milliseconds(5))
            } catch let error as TimeoutError {
                timedOut = true
                operation = error.operation
            }
            gate.set()
            return (timedOut, try results.next(timeout: .seconds(5)), operation)
        }
        #expect(timedOut)
        #expect(value == 7)
        #expect(operation == "Pool 'slow' (1 of 1 busy) imap")
    }

    @Test("submit calls the callback with the outcome once the coroutine finishes")
    func applyAsyncCallback() async throws {
        let (outcomes, value, freeInCallback) = try await onHub { () throws -> ([String], Int, Int) in
            let pool = Pool(size: 2)
            let outcomes = Box<[String]>([])
            let freeInCallback = Box(-1)
            let ok = try pool.submit { () throws -> Int in
                try Coroutine.sleep(for: .milliseconds(1))
                return 42
            } callback: { result in
                freeInCallback.value = pool.freeCount
                outcomes.value.append("ok \((try? result.get()) ?? -1)")
            }
            let failing = try pool.submit { () throws -> Int in
                try Coroutine.sleep(for: .milliseconds(3))
                throw TestFailure(tag: "apply")
            } callback: { result in
                if case .failure(let error as TestFailure) = result { outcomes.value.append("failed \(error.tag)") }
            }
            try pool.join(timeout: .seconds(5))
            let cancelled = try pool.submit { () throws -> Int in 1 } callback: { result in
                if case .failure(is CancellationError) = result { outcomes.value.append("cancelled") }
            }
            cancelled.cancel()
            try cancelled.wait()
            #expect(failing.error is TestFailure)
            return (outcomes.value, try ok.join(), freeInCallback.value)
        }
        #expect(outcomes == ["ok 42", "failed apply", "cancelled"])
        #expect(value == 42)
        // The slot is freed before the callback runs (the other item still held one).
        #expect(freeInCallback == 1)
    }

    @Test("waitAvailable times out while full and returns once a slot frees")
    func waitAvailable() async throws {
        let (timedOut, operation, free, immediate) = try await onHub { () throws -> (Bool, String, Int, Int) in
            let pool = Pool(size: 1, label: "single")
            let immediate = try pool.waitAvailable()
            let gate = Event()
            try pool.spawn { try gate.wait() }
            var timedOut = false
            var operation = ""
            do {
                try pool.waitAvailable(timeout: .milliseconds(10))
            } catch let error as TimeoutError {
                timedOut = true
                operation = error.operation
            }
            let waiter = try spawn { () throws -> Int in try pool.waitAvailable(timeout: .seconds(5)) }
            try Coroutine.yield()
            gate.set()
            return (timedOut, operation, try waiter.join(), immediate)
        }
        #expect(timedOut)
        #expect(operation == "Pool 'single' (1 of 1 busy) waitAvailable")
        #expect(free == 1)
        #expect(immediate == 1)
    }

    @Test("cancelling the caller of map cancels the items and waits for them")
    func callerCancelledDuringMap() async throws {
        let (wasCancelled, started, unwound, countWhenMapEnded) = try await onHub { () throws -> (Bool, Int, Int, Int) in
            let pool = Pool(size: 3, label: "cancel")
            let started = Box(0)
            let unwound = Box(0)
            let countWhenMapEnded = Box(-1)
            let mapper = try spawn(name: "mapper") { () throws -> [Int] in
                defer { countWhenMapEnded.value = pool.count }
                return try pool.map(0..<10) { index -> Int in
                    started.value += 1
                    defer { unwound.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                    return index
                }
            }
            try Coroutine.sleep(for: .milliseconds(10))
            mapper.cancel()
            try mapper.wait(timeout: .seconds(5))
            return (mapper.error is CancellationError, started.value, unwound.value, countWhenMapEnded.value)
        }
        #expect(wasCancelled)
        #expect(started == 3)
        #expect(unwound == 3)
        #expect(countWhenMapEnded == 0)
    }

    @Test("an expired timeout scope around map or imap cancels the items before it propagates")
    func timeoutScopeAroundMap() async throws {
        let (mapTimedOut, imapTimedOut, unwound, countAfter) = try await onHub { () throws -> (Bool, Bool, Int, Int) in
            let pool = Pool(size: 2)
            let unwound = Box(0)
            let slow = { (index: Int) throws -> Int in
                defer { unwound.value += 1 }
                try Coroutine.sleep(for: .seconds(60))
                return index
            }
            var mapTimedOut = false
            do {
                _ = try withTimeout(.milliseconds(10)) { try pool.map(0..<5, slow) }
            } catch is TimeoutError {
                mapTimedOut = true
            }
            #expect(pool.count == 0)
            var imapTimedOut = false
            let results = pool.imap(0..<5, slow)
            do {
                _ = try withTimeout(.milliseconds(10)) { try results.next() }
            } catch is TimeoutError {
                imapTimedOut = true
            }
            #expect(try results.next() == nil)
            return (mapTimedOut, imapTimedOut, unwound.value, pool.count)
        }
        #expect(mapTimedOut)
        #expect(imapTimedOut)
        #expect(unwound == 4)
        #expect(countAfter == 0)
    }

    @Test("cancelAll cancels every member; join waits for them, with a timeout and joinSelf guard")
    func cancelAllAndJoin() async throws {
        let (timedOut, unwound, selfJoin, mapError) = try await onHub { () throws -> (Bool, Int, WeaveError.Code?, Bool) in
            let pool = Pool(size: 3)
            let unwound = Box(0)
            let selfJoin = Box<WeaveError.Code?>(nil)
            for index in 0..<3 {
                try pool.spawn {
                    defer { unwound.value += 1 }
                    if index == 0 {
                        do { try pool.join() } catch let error as WeaveError { selfJoin.value = error.code }
                    }
                    try Coroutine.sleep(for: .seconds(60))
                }
            }
            var timedOut = false
            do { try pool.join(timeout: .milliseconds(5)) } catch is TimeoutError { timedOut = true }
            pool.cancelAll()
            try pool.join(timeout: .seconds(5))

            // A map whose items the pool's cancelAll kills fails with CancellationError.
            let mapper = try spawn { () throws -> [Int] in
                try pool.map(0..<3) { index -> Int in
                    try Coroutine.sleep(for: .seconds(60))
                    return index
                }
            }
            try Coroutine.sleep(for: .milliseconds(5))
            pool.cancelAll()
            try mapper.wait(timeout: .seconds(5))
            return (timedOut, unwound.value, selfJoin.value, mapper.error is CancellationError)
        }
        #expect(timedOut)
        #expect(unwound == 3)
        #expect(selfJoin == .joinSelf)
        #expect(mapError)
    }

    @Test("a deadlock names the pool and how busy it is")
    func deadlockReport() async throws {
        var caught: DeadlockError?
        do {
            try await onHub { () throws -> Void in
                let pool = Pool(size: 1, label: "crawl")
                let never = Event(label: "never")
                let worker = try spawn(name: "mapper") { () throws -> [Int] in
                    try pool.map([1]) { value -> Int in
                        try never.wait()
                        return value
                    }
                }
                try Coroutine.yield()
                try pool.spawn {}
                try worker.join()
            }
        } catch let error as DeadlockError {
            caught = error
        }
        let error = try #require(caught)
        let main = try #require(error.waiters.first { $0.name == "main" })
        let mapper = try #require(error.waiters.first { $0.name == "mapper" })
        let item = try #require(error.waiters.first { $0.name == "crawl" })
        #expect(main.waitingOn == "Pool 'crawl' (1 of 1 busy) spawn")
        #expect(mapper.waitingOn == "Pool 'crawl' (1 of 1 busy) map")
        #expect(item.waitingOn == "Event 'never' (clear) wait")
    }

    @Test("a pool dropped while its coroutines run lives until they finish, then is freed")
    func droppedPoolStaysAlive() async throws {
        let (ran, aliveWhileRunning, freedAfter) = try await onHub { () throws -> (Int, Bool, Bool) in
            let ran = Box(0)
            weak var weakMembers: MemberSet?
            var coroutines: [Coroutine<Void>] = []
            do {
                let pool = Pool(size: 2)
                weakMembers = pool.members
                for _ in 0..<4 {
                    coroutines.append(try pool.spawn {
                        try Coroutine.sleep(for: .milliseconds(2))
                        ran.value += 1
                    })
                }
            }
            let aliveWhileRunning = weakMembers != nil
            try joinAll(coroutines, timeout: .seconds(5))
            return (ran.value, aliveWhileRunning, weakMembers == nil)
        }
        #expect(ran == 4)
        #expect(aliveWhileRunning)
        #expect(freedAfter)
    }
}
