import Testing
import Weave
import WeaveTestSupport

@Suite("Semaphore, Event, Future, Condition, Barrier, WaitGroup")
struct SemaphoreEventTests {
    @Test("a semaphore bounds concurrency and wakes FIFO")
    func semaphoreBounds() async throws {
        let (peak, order) = try await onHub { () throws -> (Int, [Int]) in
            let semaphore = Semaphore(value: 2)
            let inside = Box(0)
            let peak = Box(0)
            let order = Box<[Int]>([])
            let workers = try (0..<6).map { index in
                try spawn {
                    try semaphore.withPermit {
                        order.value.append(index)
                        inside.value += 1
                        peak.value = max(peak.value, inside.value)
                        try Coroutine.sleep(for: .milliseconds(2))
                        inside.value -= 1
                    }
                }
            }
            try joinAll(workers)
            #expect(semaphore.value == 2)
            return (peak.value, order.value)
        }
        #expect(peak == 2)
        #expect(order == [0, 1, 2, 3, 4, 5])
    }

    @Test("BoundedSemaphore refuses to grow past its initial value")
    func boundedOverRelease() async throws {
        let code = try await onHub { () throws -> SyncError.Code? in
            let semaphore = BoundedSemaphore(value: 1)
            try semaphore.acquire()
            try semaphore.release()
            do { try semaphore.release() } catch let error as SyncError { return error.code }
            return nil
        }
        #expect(code == .overRelease)
    }

    @Test("a cancelled semaphore waiter does not swallow the permit")
    func noLostPermit() async throws {
        let gotIt = try await onHub { () throws -> Bool in
            let semaphore = Semaphore(value: 0)
            let doomed = try spawn { try semaphore.acquire() }
            let patient = try spawn { () throws -> Bool in try semaphore.acquire(); return true }
            try Coroutine.yield()
            doomed.cancel()          // woken by cancellation, still queued
            try semaphore.release()  // must skip it and reach `patient`
            try doomed.wait()
            return try patient.join(timeout: .seconds(5))
        }
        #expect(gotIt)
    }

    @Test("Event wakes every waiter; clear blocks again; wait times out")
    func event() async throws {
        let (woken, timedOut) = try await onHub { () throws -> (Int, Bool) in
            let event = Event(label: "green")
            let woken = Box(0)
            let waiters = try (0..<5).map { _ in try spawn { try event.wait(); woken.value += 1 } }
            try Coroutine.yield()
            event.set()
            try joinAll(waiters)
            event.clear()
            var timedOut = false
            do { try event.wait(timeout: .milliseconds(5)) } catch is TimeoutError { timedOut = true }
            return (woken.value, timedOut)
        }
        #expect(woken == 5)
        #expect(timedOut)
    }

    @Test("Future delivers a value or an error once")
    func asyncResult() async throws {
        let (value, failed, code) = try await onHub { () throws -> (Int, Bool, SyncError.Code?) in
            let result = Future<Int>()
            let getter = try spawn { try result.get() }
            try spawn { try Coroutine.sleep(for: .milliseconds(2)); try result.set(7) }
            let value = try getter.join()
            var code: SyncError.Code?
            do { try result.set(8) } catch let error as SyncError { code = error.code }
            let failing = Future<Int>()
            try failing.fail(TestFailure(tag: "x"))
            var failed = false
            do { _ = try failing.get() } catch is TestFailure { failed = true }
            return (value, failed, code)
        }
        #expect(value == 7)
        #expect(failed)
        #expect(code == .alreadyResolved)
    }

    @Test("Condition: notify wakes one, notifyAll wakes all, wait needs the lock")
    func condition() async throws {
        let (afterOne, afterAll, code) = try await onHub { () throws -> (Int, Int, SyncError.Code?) in
            let condition = Condition()
            let woken = Box(0)
            let waiters = try (0..<3).map { _ in
                try spawn { try condition.withLock { try condition.wait(); woken.value += 1 } }
            }
            try Coroutine.yield()
            try condition.withLock { try condition.notify() }
            try Coroutine.sleep(for: .milliseconds(2))
            let afterOne = woken.value
            try condition.withLock { try condition.notifyAll() }
            try joinAll(waiters)
            var code: SyncError.Code?
            do { try condition.wait() } catch let error as SyncError { code = error.code }
            return (afterOne, woken.value, code)
        }
        #expect(afterOne == 1)
        #expect(afterAll == 3)
        #expect(code == .notOwner)
    }

    @Test("Condition.wait re-takes the lock even when it times out")
    func conditionTimeoutReacquires() async throws {
        let held = try await onHub { () throws -> Bool in
            let condition = Condition()
            try condition.acquire()
            do { try condition.wait(timeout: .milliseconds(3)) } catch is TimeoutError {}
            let held = condition.lock.isHeldByCurrentCoroutine
            try condition.release()
            return held
        }
        #expect(held)
    }

    @Test("a waiter cancelled while re-taking the lock, which is freed before it runs, takes it")
    func conditionCancelledDuringReacquire() async throws {
        let outcome = try await onHub { () throws -> String in
            let condition = Condition()
            let outcome = Box("")
            let waiter = try spawn {
                try condition.withLock {
                    do { try condition.wait() } catch is CancellationError {
                        outcome.value = "cancelled, lock held: \(condition.lock.isHeldByCurrentCoroutine)"
                    }
                }
            }
            try Coroutine.yield()        // the waiter waits (the lock is free)
            try condition.acquire()
            try condition.notify()
            try Coroutine.yield()        // the waiter wakes and parks to re-take the lock
            waiter.cancel()                 // it is runnable again, no longer parked...
            try condition.release()         // ...so this release passes it by: the lock is free
            try waiter.join(timeout: .seconds(5))
            return outcome.value
        }
        #expect(outcome == "cancelled, lock held: true")
    }

    @Test("Barrier releases all parties; a cancelled party breaks it for the others")
    func barrier() async throws {
        let (indices, brokenCount) = try await onHub { () throws -> ([Int], Int) in
            let barrier = Barrier(parties: 3)
            let parties = try (0..<3).map { _ in try spawn { try barrier.wait() } }
            let indices = try parties.map { try $0.join() }.sorted()
            let second = Barrier(parties: 4)
            let waiting = try (0..<2).map { _ in try spawn { try second.wait() } }
            let leaver = try spawn { try second.wait() }
            try Coroutine.yield()
            leaver.cancel()
            try joinAll(waiting + [leaver])
            let broken = waiting.filter { ($0.error as? SyncError)?.code == .brokenBarrier }.count
            #expect(second.isBroken)
            return (indices, broken)
        }
        #expect(indices == [0, 1, 2])
        #expect(brokenCount == 2)
    }

    @Test("WaitGroup waits for every job; done below zero is an error")
    func waitGroup() async throws {
        let (finished, code) = try await onHub { () throws -> (Int, SyncError.Code?) in
            let group = WaitGroup()
            let finished = Box(0)
            for index in 0..<4 {
                try group.add()
                try spawn {
                    try Coroutine.sleep(for: .milliseconds(index))
                    finished.value += 1
                    try group.done()
                }
            }
            try group.wait()
            var code: SyncError.Code?
            do { try group.done() } catch let error as SyncError { code = error.code }
            return (finished.value, code)
        }
        #expect(finished == 4)
        #expect(code == .negativeCount)
    }

    @Test("a deadlock over two locks names both waiters and the holders")
    func lockDeadlockReport() async throws {
        var caught: DeadlockError?
        do {
            try await onHub { () throws -> Void in
                let first = Lock(label: "accounts")
                let second = Lock(label: "ledger")
                let a = try spawn(name: "alice") {
                    try first.withLock {
                        try Coroutine.sleep(for: .milliseconds(2))
                        try second.withLock {}
                    }
                }
                let b = try spawn(name: "bob") {
                    try second.withLock {
                        try Coroutine.sleep(for: .milliseconds(2))
                        try first.withLock {}
                    }
                }
                try joinAll([a, b])
            }
        } catch let error as DeadlockError {
            caught = error
        }
        let error = try #require(caught)
        let alice = try #require(error.waiters.first { $0.name == "alice" })
        let bob = try #require(error.waiters.first { $0.name == "bob" })
        #expect(alice.waitingOn == "Lock 'ledger' (held by 'bob') acquire")
        #expect(bob.waitingOn == "Lock 'accounts' (held by 'alice') acquire")
    }
}
