import Testing
import Weave
import WeaveTestSupport

@Suite("Lock and RLock")
struct LockTests {
    @Test("waiters get the lock first-come first-served")
    func fifoHandOff() async throws {
        let order = try await onHub { () throws -> [Int] in
            let lock = Lock(label: "db")
            let order = Box<[Int]>([])
            try lock.acquire()
            let contenders = try (0..<5).map { index in
                try spawn { try lock.withLock { order.value.append(index) } }
            }
            try Coroutine.yield()
            try lock.release()
            try joinAll(contenders)
            return order.value
        }
        #expect(order == [0, 1, 2, 3, 4])
    }

    @Test("owner rules: reacquire is an error, releasing an unheld lock is an error")
    func ownerRules() async throws {
        let codes = try await onHub { () throws -> [SyncError.Code] in
            var codes: [SyncError.Code] = []
            let lock = Lock()
            do { try lock.release() } catch let error as SyncError { codes.append(error.code) }
            try lock.acquire()
            do { try lock.acquire() } catch let error as SyncError { codes.append(error.code) }
            let other = try spawn { () throws -> SyncError.Code? in
                do { try lock.release() } catch let error as SyncError { return error.code }
                return nil
            }
            if let code = try other.join() { codes.append(code) }
            try lock.release()
            #expect(!lock.isLocked)
            return codes
        }
        #expect(codes == [.notOwner, .alreadyHeld, .notOwner])
    }

    @Test("RLock is reentrant and owner-counted")
    func reentrant() async throws {
        let (depth, blockedWhileHeld) = try await onHub { () throws -> (Int, Bool) in
            let lock = RLock(label: "tree")
            try lock.acquire()
            try lock.acquire()
            let depth = lock.recursionDepth
            let other = try spawn { try lock.tryAcquire() }
            let blocked = try !other.join()
            try lock.release()
            try lock.release()
            #expect(!lock.isLocked)
            #expect(throws: SyncError.self) { try lock.release() }
            return (depth, blocked)
        }
        #expect(depth == 2)
        #expect(blockedWhileHeld)
    }

    @Test("a waiter that times out or is cancelled leaves the queue and does not get the lock")
    func timeoutAndCancel() async throws {
        let (timedOut, cancelled, nextGotIt) = try await onHub { () throws -> (Bool, Bool, Bool) in
            let lock = Lock()
            try lock.acquire()
            let timing = try spawn { try lock.acquire(timeout: .milliseconds(5)) }
            let cancelling = try spawn { try lock.acquire() }
            let patient = try spawn { () throws -> Bool in
                try lock.acquire()
                defer { try? lock.release() }
                return lock.isHeldByCurrentCoroutine
            }
            try timing.wait()
            cancelling.cancel()
            try cancelling.wait()
            try lock.release()
            return (timing.error is TimeoutError, cancelling.error is CancellationError, try patient.join())
        }
        #expect(timedOut)
        #expect(cancelled)
        #expect(nextGotIt)
    }

    @Test("a waiter cancelled after being handed the lock keeps it (no lost hand-off)")
    func cancelAfterHandOff() async throws {
        let (firstHeld, secondGotIt) = try await onHub { () throws -> (Bool, Bool) in
            let lock = Lock()
            try lock.acquire()
            let first = try spawn { () throws -> Bool in
                try lock.acquire()
                let held = lock.isHeldByCurrentCoroutine
                try lock.release()
                return held
            }
            let second = try spawn { () throws -> Bool in
                try lock.acquire()
                defer { try? lock.release() }
                return true
            }
            try Coroutine.yield()
            try lock.release()      // hands the lock to `first`, makes it runnable...
            first.cancel()          // ...and cancels it before it runs
            try first.wait()
            return (first.value ?? false, try second.join())
        }
        #expect(firstHeld)
        #expect(secondGotIt)
    }
}
