import Glibc
import TestTasks
import Testing
import Weave
import WeaveTestSupport

/// Which task a worker's death is charged to, what the caller sees, and in what order.
@Suite("ProcessPool failures", .timeLimit(.minutes(3)))
struct ProcessPoolFailureTests {
    @Test("a task that kills its worker fails alone; every other result arrives once and no task runs twice")
    func poisonAmongMany() async throws {
        let log = temporaryLogPath("poison")
        defer { unlink(log) }
        // Four poison tasks, each a worker's death among short tasks batched in flight.
        let poison = [400, 900, 1400, 1900]
        let (outcomes, pidsSeen) = try await onHub { () -> ([Result<Int, any Error>], Int) in
            let pool = try testPool()
            let tasks = (0..<2000).map { Poison(index: $0, poison: poison, log: log) }
            let outcomes = try pool.imap(tasks).map { $0 }
            #expect(try pool.apply(Square(3)) == 9)
            return (outcomes, Set(try readLog(log).map(\.pid)).count)
        }
        #expect(outcomes.count == 2000)
        for (index, outcome) in outcomes.enumerated() where !poison.contains(index) {
            #expect((try? outcome.get()) == index + 1, "index \(index): \(outcome)")
        }
        for index in poison {
            let error = try #require(failure(outcomes[index]) as? ProcessError, "index \(index): \(outcomes[index])")
            #expect(error.code == .workerDied)
            #expect(error.signal == SIGKILL)
            #expect(error.message.contains("SIGKILL"))
        }
        let runs = try executionCounts(log)
        #expect(runs.count == 2000)
        #expect(runs.allSatisfy { $0.value == 1 }, "run more than once: \(runs.filter { $0.value != 1 })")
        #expect(pidsSeen <= 2 + poison.count)  // two workers and one replacement per death
    }

    @Test("with chunks, the chunk that was running fails as a whole; nothing else fails or runs twice")
    func poisonInChunk() async throws {
        let log = temporaryLogPath("poison-chunk")
        defer { unlink(log) }
        let outcomes = try await onHub { () -> [Result<Int, any Error>] in
            let pool = try testPool()
            return try pool.imap((0..<1000).map { Poison(index: $0, poison: [505], log: log) }, chunkSize: 10).map { $0 }
        }
        #expect(outcomes.count == 1000)
        for (index, outcome) in outcomes.enumerated() {
            if (500..<510).contains(index) {
                #expect((failure(outcome) as? ProcessError)?.code == .workerDied)
            } else {
                #expect((try? outcome.get()) == index + 1, "index \(index): \(outcome)")
            }
        }
        let runs = try executionCounts(log)
        #expect(runs.allSatisfy { $0.value == 1 })
        #expect(Set(runs.keys) == Set(0..<1000).subtracting(506..<510))  // the chunk stopped at 505
    }

    @Test("a write that fails because the worker is dying reports the worker's death, not EPIPE")
    func epipeIsNotTheCause() async throws {
        try await onHub {
            let marker = temporaryLogPath("shut")
            defer { unlink(marker) }
            let pool = try testPool(workers: 1)
            let dying = try pool.submit(ShutdownChannelThenAbort(milliseconds: 600, marker: marker))
            for _ in 0..<1000 where access(marker, F_OK) != 0 {  // its reading side is shut
                try Coroutine.sleep(for: .milliseconds(5))
            }
            let next = try pool.submit(Square(3))  // written to the dying worker: EPIPE
            do {
                _ = try dying.get(timeout: .seconds(30))
                Issue.record("expected the worker's death")
            } catch let error as ProcessError {
                #expect(error.code == .workerDied)
                #expect(error.signal == SIGABRT)
            } catch {
                Issue.record("expected ProcessError.workerDied, got \(error)")
            }
            #expect(try next.get(timeout: .seconds(30)) == 9)  // never started: ran elsewhere
        }
    }

    @Test("a worker silent in the middle of a frame is killed after frameTimeout; its task fails typed")
    func partialFrame() async throws {
        try await onHub {
            let pool = try ProcessPool(configuration: .init(
                workers: 1, executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"], frameTimeout: .milliseconds(300)))
            let before = pool.workerPIDs
            _ = try withTimeout(.seconds(30)) {
                #expect {
                    try pool.apply(WritePartialFrame())
                } throws: { error in
                    guard let error = error as? ProcessError else { return false }
                    return error.code == .malformedFrame && error.message.contains("then nothing for")
                }
            }
            #expect(try pool.apply(Square(4)) == 16)
            #expect(pool.workerPIDs != before)
        }
    }

    @Test("frameTimeout must be positive")
    func frameTimeoutValidated() async throws {
        try await onHub {
            #expect(throws: WeaveError.self) {
                _ = try ProcessPool(configuration: .init(workers: 1, executable: testWorkerPath, frameTimeout: .zero))
            }
            return ()
        }
    }

    @Test("imap yields in index order: a failure comes after every earlier output, then the rest")
    func imapOrder() async throws {
        try await onHub {
            let pool = try testPool()
            // Index 3 finishes long after index 4 fails.
            let tasks = (0..<7).map { NapThenMaybeFail($0, milliseconds: $0 == 3 ? 300 : 0, fails: $0 == 4) }
            var seen: [String] = []
            for outcome in try pool.imap(tasks) {
                switch outcome {
                case .success(let value): seen.append("\(value)")
                case .failure(let error): seen.append((error as? ProcessError)?.code == .remoteError ? "error" : "\(error)")
                }
            }
            #expect(seen == ["0", "1", "4", "9", "error", "25", "36"])
            // map throws that same failure, once the earlier ones are in.
            #expect { try pool.map(tasks) } throws: { ($0 as? ProcessError)?.message.contains("task 4 fails") == true }
        }
    }

    @Test("a timeout scope expiring around map and imap reaches the caller as its TimeoutError")
    func timeoutScopeAroundMap() async throws {
        try await onHub {
            let pool = try testPool()
            #expect(throws: TimeoutError.self) {
                try withTimeout(.milliseconds(200)) { try pool.map([Hang(seconds: 5), Hang(seconds: 5)]) }
            }
            #expect(throws: TimeoutError.self) {
                try withTimeout(.milliseconds(200)) {
                    for outcome in try pool.imap([Hang(seconds: 5)]) { _ = try outcome.get() }
                }
            }
            #expect(try pool.apply(Square(5)) == 25)
        }
    }

    @Test("imap on a pool closed mid-way yields every owed output before the closed error")
    func imapClosedMidway() async throws {
        try await onHub {
            let pool = try testPool()
            let tasks = (0..<10).map { NapThenMaybeFail($0, milliseconds: $0 == 1 ? 300 : 0) }
            var seen: [String] = []
            for outcome in try pool.imap(tasks, maxInFlight: 2) {
                switch outcome {
                case .success(let value): seen.append("\(value)")
                case .failure(let error): seen.append((error as? ProcessError)?.code == .closed ? "closed" : "\(error)")
                }
                if seen.count == 1 { pool.close() }
            }
            #expect(seen == ["0", "1", "closed"])
        }
    }
}

private func temporaryLogPath(_ name: String) -> String {
    "/tmp/weave-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
}

private func failure<T>(_ outcome: Result<T, any Error>) -> (any Error)? {
    if case .failure(let error) = outcome { return error }
    return nil
}

/// The lines of a `Poison` log: (index, pid) per execution.
private func readLog(_ path: String) throws -> [(index: Int, pid: Int32)] {
    guard let file = fopen(path, "r") else { return [] }
    defer { fclose(file) }
    var entries: [(index: Int, pid: Int32)] = []
    var buffer = [CChar](repeating: 0, count: 128)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let fields = cString(buffer).split(separator: " ")
        guard fields.count == 2, let index = Int(fields[0]), let pid = Int32(fields[1].filter(\.isNumber)) else {
            throw TestFailure(tag: "bad log line \(cString(buffer))")
        }
        entries.append((index, pid))
    }
    return entries
}

/// How many times each index ran.
private func executionCounts(_ path: String) throws -> [Int: Int] {
    var counts: [Int: Int] = [:]
    for entry in try readLog(path) { counts[entry.index, default: 0] += 1 }
    return counts
}

@Suite("ProcessPool initializer deaths", .timeLimit(.minutes(3)))
struct ProcessPoolInitializerDeathTests {
    @Test("an initializer that kills its worker breaks the pool after three tries; no task is blamed for it")
    func initializerKillsWorker() async throws {
        try await onHub {
            let pool = try testPool(workers: 1, initializer: Crash(signal: SIGKILL))
            _ = try withTimeout(.seconds(60)) {
                #expect {
                    try pool.apply(Square(2))
                } throws: { error in
                    guard let error = error as? ProcessError else { return false }
                    return error.code == .spawnFailed && error.message.contains("initializer") && error.signal == SIGKILL
                }
            }
        }
    }
}
