import Glibc
import Synchronization
import Testing
import Weave
import WeaveTestSupport

@Suite("blocking and ThreadPool")
struct ThreadPoolTests {
    @Test("blocking runs off the hub thread while a ticking coroutine keeps ticking")
    func offTheHubThread() async throws {
        let (offThread, ticks, value) = try await onHub { () throws -> (Bool, Int, Int) in
            let hubThread = UInt(pthread_self())
            let ticks = TickCounter()
            let ticker = try spawn { while true { try Coroutine.sleep(for: .milliseconds(1)); ticks.add() } }
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
            try Coroutine.sleep(for: .milliseconds(5))
            waiter.cancel()
            try waiter.wait()
            // The job finishes after its waiter left; the hub must take the late result calmly.
            try Coroutine.sleep(for: .milliseconds(100))
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

/// The lifetime of a ``ThreadPool``'s threads. Thread counts are process-wide, so those
/// checks run in child processes (exit tests).
@Suite("ThreadPool lifetime")
struct ThreadPoolLifetimeTests {
    @Test("dropped pools take their threads with them: the thread count returns to its baseline")
    func droppedPoolsEndTheirThreads() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let baseline = processThreadCount()
            let ran = Atomic<Int>(0)
            for _ in 0..<300 {
                let pool = ThreadPool(threads: 2)
                for _ in 0..<4 { try pool.submit { ran.add(1, ordering: .relaxed) } }
            }
            let after = processThreadCount()
            if after != baseline || ran.load(ordering: .relaxed) != 1_200 {
                writeStandardError("threads: \(baseline) before, \(after) after; jobs run: \(ran.load(ordering: .relaxed))")
                exit(3)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.isEmpty, "\(stderr)")
    }

    @Test("shutdown runs the queued jobs, joins every thread, then refuses work")
    func shutdownJoinsAndRefuses() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let baseline = processThreadCount()
            let ran = Atomic<Int>(0)
            var pools: [ThreadPool] = []
            for _ in 0..<100 {
                let pool = ThreadPool(threads: 3)
                for _ in 0..<20 { try pool.submit { usleep(50); ran.add(1, ordering: .relaxed) } }
                pools.append(pool)
            }
            for pool in pools { pool.shutdown() }
            // Every job ran before shutdown returned, and no thread is left, with the pools alive.
            let after = processThreadCount()
            var refused = 0
            for pool in pools {
                pool.shutdown()
                do { try pool.submit {} } catch let error as WeaveError where error.code == .threadPoolShutDown { refused += 1 } catch {}
            }
            if after != baseline || ran.load(ordering: .relaxed) != 2_000 || refused != 100
                || !pools.allSatisfy(\.isShutDown) {
                writeStandardError("threads: \(baseline) before, \(after) after; jobs run: \(ran.load(ordering: .relaxed)); refused: \(refused)")
                exit(3)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.isEmpty, "\(stderr)")
    }

    @Test("a job that shuts down its own pool, or drops its last reference, neither deadlocks nor leaks its thread")
    func shutdownFromOwnJob() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let baseline = processThreadCount()
            let done = Atomic<Int>(0)
            for _ in 0..<50 {
                let pool = ThreadPool(threads: 2)
                try pool.submit { pool.shutdown(); done.add(1, ordering: .relaxed) }
            }
            for _ in 0..<50 {
                // The job holds the only reference once this iteration ends: its release on
                // the pool's own thread runs the pool's deinit there.
                try ThreadPool(threads: 2).submit { done.add(1, ordering: .relaxed) }
            }
            // The threads that ran those jobs exit on their own, just after: poll (bounded).
            var after = processThreadCount()
            for _ in 0..<1_000 where after != baseline || done.load(ordering: .relaxed) != 100 {
                usleep(10_000)
                after = processThreadCount()
            }
            if after != baseline || done.load(ordering: .relaxed) != 100 {
                writeStandardError("threads: \(baseline) before, \(after) after; jobs done: \(done.load(ordering: .relaxed))")
                exit(3)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.isEmpty, "\(stderr)")
    }

    @Test("blocking on a pool that is shut down throws threadPoolShutDown")
    func blockingOnShutDownPool() async throws {
        let code = try await onHub { () throws -> WeaveError.Code? in
            let pool = ThreadPool(threads: 1)
            _ = try blocking(on: pool) { 1 }
            pool.shutdown()
            do {
                _ = try blocking(on: pool) { 2 }
            } catch let error as WeaveError {
                return error.code
            }
            return nil
        }
        #expect(code == .threadPoolShutDown)
    }
}

/// Threads of this process: entries of /proc/self/task.
private func processThreadCount() -> Int {
    guard let directory = opendir("/proc/self/task") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

private func writeStandardError(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}
