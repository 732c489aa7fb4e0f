import Testing
import Weave
import WeaveTestSupport

@Suite("Group")
struct GroupTests {
    @Test("join waits for every member; finished members leave by themselves")
    func joinWaitsForAll() async throws {
        let (finished, countBefore, countAfter, containsAfter, description) = try await onHub {
            () throws -> (Int, Int, Int, Bool, String) in
            let group = Group(label: "workers")
            let finished = Box(0)
            var members: [Coroutine<Void>] = []
            for index in 1...5 {
                members.append(try group.spawn {
                    try Coroutine.sleep(for: .milliseconds(index))
                    finished.value += 1
                })
            }
            let countBefore = group.count
            let description = group.description
            #expect(group.contains(members[0]))
            try group.join(timeout: .seconds(5))
            #expect(group.isEmpty)
            return (finished.value, countBefore, group.count, group.contains(members[0]), description)
        }
        #expect(finished == 5)
        #expect(countBefore == 5)
        #expect(countAfter == 0)
        #expect(!containsAfter)
        #expect(description == "Group 'workers' (5 running)")
    }

    @Test("join(raiseError:) rethrows the first failure once all have finished; plain join does not")
    func joinRaiseError() async throws {
        let (caught, finishedAtThrow, plainJoinThrew) = try await onHub { () throws -> (TestFailure?, Int, Bool) in
            let group = Group()
            let finished = Box(0)
            func start() throws {
                try group.spawn { () throws -> Void in
                    defer { finished.value += 1 }
                    try Coroutine.sleep(for: .milliseconds(2))
                    throw TestFailure(tag: "first")
                }
                try group.spawn { () throws -> Void in
                    defer { finished.value += 1 }
                    try Coroutine.sleep(for: .milliseconds(10))
                    throw TestFailure(tag: "second")
                }
                try group.spawn {
                    defer { finished.value += 1 }
                    try Coroutine.sleep(for: .milliseconds(20))
                }
                // Ended by cancellation: not a failure for raiseError.
                let cancelled = try group.spawn { try Coroutine.sleep(for: .seconds(60)) }
                cancelled.cancel()
            }
            try start()
            var caught: TestFailure?
            var finishedAtThrow = -1
            do {
                try group.join(timeout: .seconds(5), raiseError: true)
            } catch let error as TestFailure {
                caught = error
                finishedAtThrow = finished.value
            }
            finished.value = 0
            try start()
            var plainJoinThrew = false
            do { try group.join(timeout: .seconds(5)) } catch { plainJoinThrew = true }
            return (caught, finishedAtThrow, plainJoinThrew)
        }
        #expect(caught == TestFailure(tag: "first"))
        #expect(finishedAtThrow == 3)
        #expect(!plainJoinThrew)
    }

    @Test("discard stops tracking a member without stopping it; add tracks an outside coroutine")
    func discardAndAdd() async throws {
        let outcome = try await onHub { () throws -> (Int, Bool, Bool, Int, Bool, Int) in
            let group = Group(label: "tracked")
            let gate = Event()
            let sleeper = try group.spawn { try gate.wait() }
            group.discard(sleeper)
            let countAfterDiscard = group.count
            let containsAfterDiscard = group.contains(sleeper)
            // Nothing left to wait for: returns at once even though the sleeper runs.
            try group.join(timeout: .seconds(5))
            let sleeperRunning = !sleeper.isFinished

            // Added back, then waited for; a finished coroutine is not added at all.
            group.add(sleeper)
            group.add(sleeper)
            let countAfterAdd = group.count
            let outside = try spawn { try Coroutine.sleep(for: .milliseconds(2)) }
            group.add(outside)
            let opener = try spawn { try Coroutine.sleep(for: .milliseconds(5)); gate.set() }
            try group.join(timeout: .seconds(5))
            try opener.join()
            let done = try spawn {}
            try done.join()
            group.add(done)
            return (countAfterDiscard, containsAfterDiscard, sleeperRunning, countAfterAdd,
                    sleeper.isFinished && outside.isFinished, group.count)
        }
        let (countAfterDiscard, containsAfterDiscard, sleeperRunning, countAfterAdd, bothFinished, finalCount) = outcome
        #expect(countAfterDiscard == 0)
        #expect(!containsAfterDiscard)
        #expect(sleeperRunning)
        #expect(countAfterAdd == 1)
        #expect(bothFinished)
        #expect(finalCount == 0)
    }

    @Test("cancelAll unwinds every member; join then returns")
    func cancelAll() async throws {
        let (unwound, count) = try await onHub { () throws -> (Int, Int) in
            let group = Group()
            let unwound = Box(0)
            for _ in 0..<10 {
                try group.spawn {
                    defer { unwound.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                }
            }
            try Coroutine.yield()
            group.cancelAll()
            try group.join(timeout: .seconds(5))
            return (unwound.value, group.count)
        }
        #expect(unwound == 10)
        #expect(count == 0)
    }

    @Test("join times out while members run, and a member cannot join its own group")
    func joinTimeoutAndSelf() async throws {
        let (timedOut, operation, selfJoin) = try await onHub { () throws -> (Bool, String, WeaveError.Code?) in
            let group = Group(label: "g")
            let gate = Event()
            let selfJoin = Box<WeaveError.Code?>(nil)
            try group.spawn {
                do { try group.join() } catch let error as WeaveError { selfJoin.value = error.code }
                try gate.wait()
            }
            var timedOut = false
            var operation = ""
            do {
                try group.join(timeout: .milliseconds(5))
            } catch let error as TimeoutError {
                timedOut = true
                operation = error.operation
            }
            gate.set()
            try group.join(timeout: .seconds(5))
            return (timedOut, operation, selfJoin.value)
        }
        #expect(timedOut)
        #expect(operation == "Group 'g' (1 running) join")
        #expect(selfJoin == .joinSelf)
    }

    @Test("map runs every item at once and keeps input order; imapUnordered yields as completed")
    func mapAndImapUnordered() async throws {
        let (values, peak, order) = try await onHub { () throws -> ([Int], Int, [Int]) in
            let group = Group()
            let inside = Box(0)
            let peak = Box(0)
            let values = try group.map(0..<10) { index -> Int in
                inside.value += 1
                peak.value = max(peak.value, inside.value)
                try Coroutine.sleep(for: .milliseconds(10 - index))
                inside.value -= 1
                return index + 1
            }
            let gates = (0..<3).map { _ in Event() }
            let results = group.imapUnordered(0..<3) { index -> Int in
                try gates[index].wait()
                return index
            }
            let opener = try spawn {
                for index in [1, 2, 0] {
                    gates[index].set()
                    try Coroutine.sleep(for: .milliseconds(1))
                }
            }
            var order: [Int] = []
            while let index = try results.next() { order.append(index) }
            try opener.join()
            return (values, peak.value, order)
        }
        #expect(values == Array(1...10))
        #expect(peak == 10)
        #expect(order == [1, 2, 0])
    }

    @Test("map throws the failure at the lowest index, after the items before it finished")
    func mapThrowsLowestIndexFailure() async throws {
        let (caught, zeroFinished, twoCancelled, countAfter) = try await onHub {
            () throws -> (TestFailure?, Bool, Bool, Int) in
            let group = Group()
            let threeFailed = Event()
            let zeroFinished = Box(false)
            let twoCancelled = Box(false)
            var caught: TestFailure?
            do {
                _ = try group.map(0..<4) { index -> Int in
                    switch index {
                    case 0:
                        try threeFailed.wait()
                        zeroFinished.value = true
                        return 0
                    case 1:
                        try threeFailed.wait()
                        throw TestFailure(tag: "one")
                    case 2:
                        do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError {
                            twoCancelled.value = true
                            throw CancellationError()
                        }
                        return 2
                    default:
                        defer { threeFailed.set() }
                        throw TestFailure(tag: "three")
                    }
                }
            } catch let error as TestFailure {
                caught = error
            }
            return (caught, zeroFinished.value, twoCancelled.value, group.count)
        }
        // As gevent's map (a list of imap): item 3 failed first, but item 1 comes first.
        #expect(caught == TestFailure(tag: "one"))
        #expect(zeroFinished)
        #expect(twoCancelled)
        #expect(countAfter == 0)
    }

    @Test("a cancelled caller of Group.map cancels and waits for the items")
    func callerCancelledDuringMap() async throws {
        let (wasCancelled, unwound, countWhenMapEnded) = try await onHub { () throws -> (Bool, Int, Int) in
            let group = Group()
            let unwound = Box(0)
            let countWhenMapEnded = Box(-1)
            let mapper = try spawn { () throws -> [Int] in
                defer { countWhenMapEnded.value = group.count }
                return try group.map(0..<6) { index -> Int in
                    defer { unwound.value += 1 }
                    try Coroutine.sleep(for: .seconds(60))
                    return index
                }
            }
            try Coroutine.sleep(for: .milliseconds(5))
            mapper.cancel()
            try mapper.wait(timeout: .seconds(5))
            return (mapper.error is CancellationError, unwound.value, countWhenMapEnded.value)
        }
        #expect(wasCancelled)
        #expect(unwound == 6)
        #expect(countWhenMapEnded == 0)
    }

    @Test("submit on a group calls back once with the result")
    func submit() async throws {
        let results = try await onHub { () throws -> [Int] in
            let group = Group()
            let results = Box<[Int]>([])
            for index in 0..<3 {
                try group.submit { () throws -> Int in
                    try Coroutine.sleep(for: .milliseconds(3 - index))
                    return index
                } callback: { result in
                    if let value = try? result.get() { results.value.append(value) }
                }
            }
            try group.join(timeout: .seconds(5))
            return results.value
        }
        #expect(results.sorted() == [0, 1, 2])
    }
}
