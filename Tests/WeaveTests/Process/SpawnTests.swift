import Glibc
import Testing
import Weave
import WeaveTestSupport

/// Issue 12, item 15: processes start on the spawner thread; failures before the exec still
/// come back typed; the child starts clean; `parentDeathSignal` ties a child to this process.
@Suite("Spawning", .timeLimit(.minutes(3)))
struct SpawnTests {
    @Test("an exec that fails on the spawner thread is a typed error naming the program and the errno")
    func execFailuresAreTyped() async throws {
        try await onHub {
            for (path, code) in [("/no/such/dir/program", "ENOENT"), ("/etc/passwd", "EACCES"), ("/tmp", "EACCES")] {
                do {
                    _ = try Command.run(path, timeout: .seconds(30))
                    Issue.record("expected spawnFailed for \(path)")
                } catch let error as ProcessError {
                    #expect(error.code == .spawnFailed)
                    #expect(error.message.contains(path) && error.message.contains(code), "\(error)")
                }
            }
        }
    }

    @Test("a child starts with default signal dispositions and nothing blocked, though the hub ignores SIGPIPE")
    func cleanSignalState() async throws {
        try await onHub {
            let status = try Command.run("/bin/cat", arguments: ["/proc/self/status"], timeout: .seconds(30))
            let lines = status.outputString.split(separator: "\n")
            #expect(lines.first { $0.hasPrefix("SigIgn:") }?.hasSuffix("0000000000000000") == true)
            #expect(lines.first { $0.hasPrefix("SigBlk:") }?.hasSuffix("0000000000000000") == true)
        }
    }

    @Test("many concurrent runs all start, finish and are reaped")
    func concurrentRuns() async throws {
        try await onHub {
            let runs = try (0..<50).map { index in
                try spawn { try Command.run("/bin/echo", arguments: ["\(index)"], timeout: .seconds(60)).outputString }
            }
            for (index, run) in runs.enumerated() { #expect(try run.join() == "\(index)\n") }
        }
    }

    @Test("a cancellation that arrives while the child starts is thrown by the next blocking call; the child is killed and reaped")
    func cancelledWhileStarting() async throws {
        try await onHub {
            let started = Box<Int32>(0)
            let runner = try spawn {
                let child = try Command.spawn("/bin/sleep", arguments: ["30"], standardInput: .discard, standardOutput: .discard, standardError: .discard)
                started.value = child.pid
                do {
                    _ = try child.wait()
                } catch {
                    try? child.kill()
                    throw error
                }
            }
            try Coroutine.yield()  // the runner runs until it parks: in the spawn's wait
            runner.cancel()
            #expect(throws: CancellationError.self) { try runner.join() }
            #expect(started.value > 0)  // the spawn finished; the wait after it threw
            for _ in 0..<500 where isAlive(started.value) { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(!isAlive(started.value))
        }
    }

    @Test("parentDeathSignal kills the child when this process dies; without it the child lives on")
    func parentDeathSignal() async throws {
        let pidFile = "/tmp/weave-death-signal-\(getpid())"
        defer { unlink(pidFile) }
        await #expect(processExitsWith: .signal(SIGKILL)) {
            // The exit test's process is a child of the test process: its pid names the file.
            let path = "/tmp/weave-death-signal-\(getppid())"
            try? Hub.run {
                let guarded = try Command.spawn("/bin/sleep", arguments: ["30"], standardInput: .discard, standardOutput: .discard,
                                                   standardError: .discard, parentDeathSignal: SIGKILL)
                let free = try Command.spawn("/bin/sleep", arguments: ["30"], standardInput: .discard, standardOutput: .discard,
                                                standardError: .discard)
                let file = fopen(path + ".tmp", "w")
                fputs("\(guarded.pid) \(free.pid)\n", file)
                fclose(file)
                rename(path + ".tmp", path)
                // Dies at once, without the hub's shutdown that would kill its children.
                kill(getpid(), SIGKILL)
            }
            exit(1)
        }
        guard let file = fopen(pidFile, "r") else {
            Issue.record("the exit test wrote no pids")
            return
        }
        var buffer = [CChar](repeating: 0, count: 64)
        _ = fgets(&buffer, 64, file)
        fclose(file)
        let pids = cString(buffer).split(separator: " ").compactMap { Int32(String($0.filter(\.isNumber))) }
        try #require(pids.count == 2)
        defer { kill(pids[1], SIGKILL) }
        for _ in 0..<500 where isAlive(pids[0]) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!isAlive(pids[0]))
        #expect(isAlive(pids[1]))
    }
}
