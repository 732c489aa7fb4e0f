import Glibc
import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

/// A task no worker registers.
struct NotRegistered: ProcessTask {
    func run() throws -> Int { 1 }
}

@Suite("ProcessPool", .timeLimit(.minutes(3)))
struct ProcessPoolTests {
    @Test("apply, map, imap, imapUnordered and chunking return every output")
    func basics() async throws {
        try await onHub {
            let pool = try testPool()
            #expect(try pool.apply(Square(12)) == 144)
            #expect(try pool.map((1...200).map(Square.init)) == (1...200).map { $0 * $0 })
            #expect(try pool.map((1...101).map(Square.init), chunkSize: 7) == (1...101).map { $0 * $0 })
            let ordered = try pool.imap((1...50).map(Square.init)).map { try $0.get() }
            #expect(ordered == (1...50).map { $0 * $0 })
            let unordered = try pool.imapUnordered((1...50).map { NapThenSquare($0, milliseconds: (50 - $0) % 5) }).map { try $0.get() }
            #expect(unordered.sorted() == (1...50).map { $0 * $0 })
            pool.close()
            try pool.join(timeout: .seconds(30))
            #expect(pool.workerPIDs.isEmpty)
        }
    }

    @Test("imap reads its input lazily: an endless input with a prefix stays bounded")
    func lazyInput() async throws {
        try await onHub {
            let pool = try testPool()
            var produced = 0
            let endless = (1...).lazy.map { value -> Square in produced += 1; return Square(value) }
            var seen = 0
            for output in try pool.imap(endless, maxInFlight: 4) {
                seen += 1
                #expect(try output.get() == seen * seen)
                #expect(produced <= seen + 4)
                if seen == 100 { break }
            }
            #expect(seen == 100)
        }
    }

    @Test("submit delivers through the Future and the callbacks")
    func submit() async throws {
        try await onHub {
            let pool = try testPool()
            var successes: [Int] = []
            var failures: [String] = []
            let good = try pool.submit(Square(9), onSuccess: { successes.append($0) })
            let bad = try pool.submit(Throwing("nope"), onFailure: { failures.append("\($0)") })
            #expect(try good.get(timeout: .seconds(30)) == 81)
            #expect(throws: ProcessError.self) { try bad.get(timeout: .seconds(30)) }
            try Coroutine.sleep(for: .milliseconds(50))
            #expect(successes == [81])
            #expect(failures.count == 1 && failures[0].contains("nope"))
        }
    }

    @Test("an error thrown by a task comes back with its type and message")
    func remoteError() async throws {
        try await onHub {
            let pool = try testPool()
            do {
                _ = try pool.apply(Throwing("bad input 7"))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.remote?.typeName == "TestTasks.TestFailure")
                #expect(error.message.contains("bad input 7"))
            }
            #expect(try pool.apply(Square(3)) == 9)  // the worker is still fine
        }
    }

    @Test("an unregistered task type is a typed error")
    func unregistered() async throws {
        try await onHub {
            let pool = try testPool()
            #expect { try pool.apply(NotRegistered()) } throws: { ($0 as? ProcessError)?.code == .unregisteredTask }
            #expect(try pool.apply(Square(4)) == 16)
        }
    }

    @Test("the initializer runs in every worker before its tasks")
    func initializer() async throws {
        try await onHub {
            let pool = try testPool(initializer: SetGreeting("hi from init"))
            let greetings = try pool.map((0..<10).map { _ in ReadGreeting() })
            #expect(greetings.allSatisfy { $0 == "hi from init" })
        }
    }

    @Test("kill -9 of a worker during a map fails only its task, names the signal, and the pool goes on")
    func workerKilled() async throws {
        try await onHub {
            let pool = try testPool()
            var victim: Int32 = 0
            var outcomes: [Result<Int, any Error>] = []
            // The first task naps for seconds and the victim is the worker running it, so the
            // kill lands mid-task however late this loop runs on a loaded machine (a short
            // task's result could already be in the pipe).
            let tasks = (1...20).map { NapThenSquare($0, milliseconds: $0 == 1 ? 5_000 : 50) }
            for outcome in try pool.imapUnordered(tasks) {
                outcomes.append(outcome)
                let busy = pool.workers.filter { !$0.inFlight.isEmpty }
                if victim == 0, let busy = busy.min(by: { $0.inFlight.first!.id < $1.inFlight.first!.id }) {
                    victim = busy.process.pid
                    kill(victim, SIGKILL)
                }
            }
            let failures = outcomes.compactMap { outcome -> ProcessError? in
                if case .failure(let error) = outcome { return error as? ProcessError }
                return nil
            }
            #expect(outcomes.count == 20)
            #expect(failures.count == 1)
            #expect(failures.first?.code == .workerDied)
            #expect(failures.first?.signal == SIGKILL)
            #expect(failures.first?.message.contains("SIGKILL") == true)
            #expect(try pool.apply(Square(5)) == 25)
            #expect(!pool.workerPIDs.contains(victim))
            #expect(pool.workerPIDs.count == 2)
        }
    }

    @Test("a batch submitted before every worker is ready is still shared by all of them")
    func fairShareAtStart() async throws {
        try await onHub {
            let pool = try testPool()
            let rendezvous = "/tmp/weave-fair-share-\(getpid())-\(UInt64.random(in: 0 ... .max))"
            defer { unlink(rendezvous) }
            // Each task waits until both workers have run one: a pool that gave the whole
            // batch to the first worker ready would return one pid (after 10 s a task).
            let pids = try pool.map((0..<8).map { _ in SlowWorkerPID(rendezvous: rendezvous, workers: 2) })
            #expect(Set(pids).count == 2)
        }
    }

    @Test("a crashing task fails with the signal; the others are unaffected")
    func crash() async throws {
        try await onHub {
            let pool = try testPool()
            #expect { try pool.apply(Crash(signal: SIGABRT)) } throws: { ($0 as? ProcessError)?.signal == SIGABRT }
            #expect(try pool.map((1...10).map(Square.init)).count == 10)
        }
    }

    @Test("a task that hangs past its timeout has its worker killed and replaced")
    func taskTimeout() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            let before = pool.workerPIDs
            #expect(throws: TimeoutError.self) { try pool.apply(Hang(seconds: 60), timeout: .milliseconds(200)) }
            #expect(try pool.apply(Square(6)) == 36)
            #expect(pool.workerPIDs != before)
        }
    }

    @Test("a worker writing garbage to its channel fails its task with malformedFrame")
    func garbage() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            #expect { try pool.apply(WriteGarbage()) } throws: { ($0 as? ProcessError)?.code == .malformedFrame }
            #expect(try pool.apply(Square(7)) == 49)
        }
    }

    @Test("a result larger than the frame limit is a typed error, and the pool goes on")
    func oversizedResult() async throws {
        try await onHub {
            let pool = try testPool(workers: 1, maximumFrameSize: 1 << 20)
            #expect(try pool.apply(EchoBytes(count: 1000)).count == 1000)
            #expect { try pool.apply(EchoBytes(count: 2 << 20)) } throws: { ($0 as? ProcessError)?.code == .frameTooLarge }
            #expect(try pool.apply(Square(8)) == 64)
        }
    }

    @Test("cancelling a caller whose task runs kills that worker; the pool goes on")
    func cancelRunning() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            // The worker is up and idle, so the task goes to it at once: cancelling then
            // abandons a task its worker holds (a task still queued in the pool, as on a
            // loaded machine whose worker has not started yet, would not cost a worker).
            #expect(try pool.apply(Square(3)) == 9)
            let before = pool.workerPIDs
            let caller = try spawn { try pool.apply(Hang(seconds: 60)) }
            try Coroutine.sleep(for: .milliseconds(200))
            caller.cancel()
            #expect(throws: CancellationError.self) { try caller.join() }
            #expect(try pool.apply(Square(2)) == 4)
            #expect(pool.workerPIDs != before)
        }
    }

    // Event-driven, not a tick count in a time window: the tasks wait for a file that a
    // coroutine on the same hub makes after three sleeps. A hub held by the map could never
    // make it, and the tasks would give up after 30 s with false.
    @Test("other coroutines keep running during a long map")
    func tickerTicks() async throws {
        try await onHub {
            let pool = try testPool()
            let path = "/tmp/weave-map-ticker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(path) }
            let ticker = try spawn {
                for _ in 0..<3 { try Coroutine.sleep(for: .milliseconds(5)) }
                close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644))
            }
            let seen = try pool.map((0..<4).map { _ in WaitForFile(path: path) })
            #expect(seen == [true, true, true, true])
            try ticker.join()
        }
    }

    @Test("a closed pool refuses work; join waits for the workers to exit")
    func closeAndJoin() async throws {
        try await onHub {
            let pool = try testPool()
            let pids = pool.workerPIDs
            #expect(throws: ProcessError.self) { try pool.join() }  // not closed yet
            let pending = try pool.submit(NapThenSquare(3, milliseconds: 100))
            pool.close()
            #expect { try pool.apply(Square(1)) } throws: { ($0 as? ProcessError)?.code == .closed }
            try pool.join(timeout: .seconds(30))
            #expect(try pending.get() == 9)
            try Coroutine.sleep(for: .milliseconds(100))
            #expect(pids.allSatisfy { !isAlive($0) })
        }
    }

    @Test("terminate kills the workers and fails what is in flight")
    func terminate() async throws {
        try await onHub {
            let pool = try testPool()
            let running = try pool.submit(Hang(seconds: 60))
            try Coroutine.sleep(for: .milliseconds(100))
            pool.terminate()
            #expect { try running.get(timeout: .seconds(10)) } throws: { ($0 as? ProcessError)?.code == .closed }
        }
    }

    @Test("10,000 tasks with maxTasksPerWorker 100 leak no fd and no process")
    func recyclingLeaksNothing() async {
        await #expect(processExitsWith: .success) {
            // A first small run opens what libuv keeps for the process's life (its signal
            // pipe for SIGCHLD); the baseline is taken after it.
            try Hub.run {
                let pool = try testPool(workers: 1)
                _ = try pool.apply(Square(1))
            }
            let fdsBefore = openFileDescriptorCount()
            try Hub.run {
                let pool = try testPool(maxTasksPerWorker: 100)
                let outputs = try pool.map((0..<10_000).map(Square.init), chunkSize: 1)
                guard outputs.count == 10_000, outputs[9_999] == 9_999 * 9_999 else { exit(2) }
                pool.close()
                try pool.join(timeout: .seconds(60))
            }
            // Give the kernel a moment to finish reaping.
            for _ in 0..<100 where !childProcessIDs().isEmpty { usleep(20_000) }
            guard childProcessIDs().isEmpty else { exit(3) }
            guard openFileDescriptorCount() == fdsBefore else { exit(4) }
            exit(0)
        }
    }

    @Test("a parent killed with SIGKILL leaves no worker alive")
    func parentDeathKillsWorkers() async throws {
        let (parent, workers) = try await startPoolParent()
        #expect(workers.allSatisfy(isAlive))
        kill(parent, SIGKILL)
        var parentStatus: Int32 = 0
        waitpid(parent, &parentStatus, 0)
        // PDEATHSIG is immediate; allow a generous second for the kernel and scheduler.
        for _ in 0..<50 where workers.contains(where: isAlive) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(1))
        #expect(!workers.contains(where: isAlive))
    }

    @Test("SIGINT in the parent kills the workers, then ends the parent by SIGINT")
    func interruptShutsDown() async throws {
        let (parent, workers) = try await startPoolParent()
        kill(parent, SIGINT)
        var status: Int32 = 0
        waitpid(parent, &status, 0)
        #expect(status & 0x7F == SIGINT)  // WIFSIGNALED with SIGINT
        try await Task.sleep(for: .milliseconds(500))
        #expect(!workers.contains(where: isAlive))
    }
}

/// Starts `WeaveTestWorker --pool-parent FILE` (a program whose pool has two workers) and
/// returns its pid and its workers' pids once they serve.
func startPoolParent() async throws -> (parent: pid_t, workers: [Int32]) {
    let pidFile = "/tmp/weave-pool-parent-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(pidFile) }
    // A clean signal state (the test runner's threads may block or ignore SIGINT), and only
    // descriptors 0, 1 and 2: the fixtures' spawn.
    let parent = try spawnServerProcess(testWorkerPath, arguments: ["--pool-parent", pidFile])
    var workers: [Int32] = []
    for _ in 0..<500 where workers.count < 2 {
        try await Task.sleep(for: .milliseconds(20))
        if let file = fopen(pidFile, "r") {
            var buffer = [CChar](repeating: 0, count: 256)
            if fgets(&buffer, 256, file) != nil, cString(buffer).hasSuffix("\n") {
                workers = cString(buffer).split(separator: " ").compactMap { Int32(String($0.filter(\.isNumber))) }
            }
            fclose(file)
        }
    }
    try #require(workers.count == 2)
    return (parent, workers)
}

@Suite("ProcessPool diagnostics")
struct ProcessPoolDiagnosticsTests {
    @Test("the dump names the pool task a coroutine waits for")
    func dumpNamesTask() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            let caller = try spawn(name: "caller") { try pool.apply(NapThenSquare(3, milliseconds: 300)) }
            try Coroutine.sleep(for: .milliseconds(100))
            let line = Hub.current!.dump().coroutines.first { $0.name == "caller" }?.waitingOn ?? ""
            #expect(line.contains("ProcessPool task"))
            #expect(line.contains("NapThenSquare"))
            #expect(try caller.join() == 9)
        }
    }
}
