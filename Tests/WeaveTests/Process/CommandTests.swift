import Glibc
import Testing
import Weave
import WeaveTestSupport

/// Whether `pid` names a process that has not been reaped (running, sleeping or a zombie).
private func processExists(_ pid: Int32) -> Bool {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return false }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    guard fgets(&line, Int32(line.count), file) != nil else { return false }
    let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // "pid (comm) S ...": the state follows the last ')'.
    guard let close = text.lastIndex(of: ")") else { return false }
    let state = text[text.index(after: close)...].trimmingPrefix(" ").first
    return state != nil && state != "X"
}

/// Polls (letting the hub run) until `pid` is gone, with a generous bound.
private func waitUntilGone(_ pid: Int32) throws -> Bool {
    for _ in 0..<1000 {
        if !processExists(pid) { return true }
        try Coroutine.sleep(for: .milliseconds(10))
    }
    return false
}

@Suite("Command", .timeLimit(.minutes(2)))
struct SubprocessTests {
    @Test("run captures standard output and standard error separately")
    func capture() async throws {
        let result = try await onHub {
            try Command.run("/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo more"])
        }
        #expect(result.outputString == "out\nmore\n")
        #expect(result.errorString == "err\n")
        #expect(result.status == .exited(0))
        #expect(result.isSuccess)
    }

    @Test("input bytes reach the child through cat, large enough to need both directions at once")
    func inputThroughCat() async throws {
        let input = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let result = try await onHub { try Command.run("cat", input: input) }
        #expect(result.standardOutput == input)
        #expect(result.isSuccess)
    }

    @Test("a child that ignores its input is not an error")
    func unreadInput() async throws {
        let result = try await onHub {
            try Command.run("true", input: [UInt8](repeating: 65, count: 1 << 20))
        }
        #expect(result.status == .exited(0))
    }

    @Test("exit status and death by signal")
    func statuses() async throws {
        let (exited, signaled) = try await onHub {
            (try Command.run("/bin/sh", arguments: ["-c", "exit 3"]),
             try Command.run("/bin/sh", arguments: ["-c", "kill -TERM $$"]))
        }
        #expect(exited.status == .exited(3))
        #expect(!exited.isSuccess)
        #expect(exited.status.description == "exited with status 3")
        #expect(signaled.status == .signaled(SIGTERM))
        #expect(signaled.status.description == "killed by SIGTERM")
    }

    @Test("environment: inherited with additions, or replaced; working directory")
    func environmentAndDirectory() async throws {
        let (added, replaced, directory) = try await onHub {
            (try Command.run("/bin/sh", arguments: ["-c", "echo $WEAVE_ADDED:${HOME:+home}"],
                                environment: Command.inheritedEnvironment(adding: ["WEAVE_ADDED": "yes"])),
             try Command.run("/usr/bin/env", environment: ["ONLY": "this"]),
             try Command.run("/bin/sh", arguments: ["-c", "pwd"], workingDirectory: "/tmp"))
        }
        let home = getenv("HOME") != nil ? "home" : ""
        #expect(added.outputString == "yes:\(home)\n")
        #expect(replaced.outputString == "ONLY=this\n")
        #expect(directory.outputString == "/tmp\n")
    }

    @Test("a missing executable or working directory, and bad arguments, are typed errors")
    func missingExecutable() async throws {
        try await onHub {
            do {
                _ = try Command.run("weave-no-such-program-xyz")
                Issue.record("expected spawnFailed")
            } catch let error as ProcessError {
                #expect(error.code == .spawnFailed)
                #expect(error.message.contains("weave-no-such-program-xyz"))
                #expect(error.message.contains("ENOENT"))
            }
            do {
                _ = try Command.run("/no/such/dir/program")
                Issue.record("expected spawnFailed")
            } catch let error as ProcessError {
                #expect(error.code == .spawnFailed)
                #expect(error.message.contains("/no/such/dir/program") && error.message.contains("ENOENT"))
            }
            #expect(throws: ProcessError.self) { _ = try Command.run("true", workingDirectory: "/no/such/dir") }
            #expect(throws: ProcessError.self) { _ = try Command.run("echo", arguments: ["a\0b"]) }
            #expect(throws: ProcessError.self) { _ = try Command.run("true", environment: ["A=B": "c"]) }
        }
    }

    @Test("a timeout terminates the child, reaps it, and throws TimeoutError")
    func timeout() async throws {
        try await onHub {
            do {
                _ = try Command.run("sleep", arguments: ["60"], timeout: .milliseconds(100))
                Issue.record("expected a timeout")
            } catch let error as TimeoutError {
                #expect(error.operation.contains("sleep"))
            }
            // An enclosing scope's expiry stays the scope's error (and the child is killed).
            do {
                _ = try withTimeout(.milliseconds(100)) { try Command.run("sleep", arguments: ["60"]) }
                Issue.record("expected the scope to expire")
            } catch let error as TimeoutError {
                #expect(error.scope != nil)
            }
            // The same through a spawned child's wait, and the pid is gone once it returns.
            let child = try Command.spawn("sleep", arguments: ["60"])
            #expect(throws: TimeoutError.self) { _ = try child.wait(timeout: .milliseconds(100)) }
            #expect(child.status == .signaled(SIGTERM))
            #expect(!processExists(child.pid))
        }
    }

    @Test("a child that ignores SIGTERM is killed after the grace period")
    func gracePeriod() async throws {
        try await onHub {
            let child = try Command.spawn("/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; exec sleep 60"],
                                             killGracePeriod: .milliseconds(200))
            #expect(try child.standardOutput?.readLine() == "ready")
            #expect(throws: TimeoutError.self) { _ = try child.wait(timeout: .milliseconds(50)) }
            #expect(child.status == .signaled(SIGKILL))
            #expect(!processExists(child.pid))
        }
    }

    @Test("streaming: lines written to cat come back while it runs, then it exits 0 at end of input")
    func streaming() async throws {
        try await onHub {
            let cat = try Command.spawn("cat", standardError: .discard)
            #expect(cat.standardError == nil)
            let input = try #require(cat.standardInput)
            let output = try #require(cat.standardOutput)
            for index in 1...20 {
                try input.write("line \(index)\n")
                #expect(try output.readLine(timeout: .seconds(30)) == "line \(index)")
            }
            #expect(!cat.hasExited)
            input.close()
            #expect(try output.readLine() == nil)
            #expect(try cat.wait(timeout: .seconds(30)) == .exited(0))
            cat.close()
        }
    }

    @Test("other coroutines keep running while one waits for a child")
    func tickingWhileChildRuns() async throws {
        // No timing: cat exits only once the ticker has ticked and closed its input, so the
        // wait can only end if the ticker ran while the main coroutine waited.
        let (status, ticks) = try await onHub {
            let ticks = Box(0)
            let cat = try Command.spawn("cat", standardOutput: .discard, standardError: .discard)
            try spawn {
                for _ in 0..<5 {
                    try Coroutine.sleep(for: .milliseconds(5))
                    ticks.value += 1
                }
                cat.standardInput?.close()
            }
            return (try cat.wait(timeout: .seconds(60)), ticks.value)
        }
        #expect(status == .exited(0))
        #expect(ticks == 5)
    }

    @Test("waiting on a child with no pipes and nothing else to do is not a deadlock")
    func noDeadlockWhileChildRuns() async throws {
        let status = try await onHub {
            let child = try Command.spawn("sleep", arguments: ["0.2"], standardInput: .discard,
                                             standardOutput: .discard, standardError: .discard)
            return try child.wait()
        }
        #expect(status == .exited(0))
    }

    @Test("cancelling a coroutine blocked in wait kills the child, which the hub then reaps")
    func cancelledWait() async throws {
        try await onHub {
            let child = try Command.spawn("sleep", arguments: ["60"], standardInput: .discard,
                                             standardOutput: .discard, standardError: .discard)
            let waiter = try spawn { try child.wait() }
            try Coroutine.yield()  // the waiter runs and parks in wait
            waiter.cancel()
            #expect(throws: CancellationError.self) { try waiter.join() }
            #expect(try waitUntilGone(child.pid))
            #expect(child.status == .signaled(SIGKILL))
        }
    }

    @Test("cancelling Command.run kills the child")
    func cancelledRun() async throws {
        try await onHub {
            let runner = try spawn { try Command.run("/bin/sh", arguments: ["-c", "echo $$; exec sleep 60"]) }
            try Coroutine.sleep(for: .milliseconds(200))
            runner.cancel()
            #expect(throws: CancellationError.self) { try runner.join() }
        }
    }

    @Test("hub shutdown kills and reaps a child nobody waited for")
    func shutdownReaps() async throws {
        let pid = try await onHub {
            let child = try Command.spawn("sleep", arguments: ["60"])
            return child.pid
        }
        #expect(!processExists(pid))
    }

    @Test("output beyond maxOutputSize is a typed error, and the child is killed")
    func outputTooLarge() async throws {
        try await onHub {
            do {
                _ = try Command.run("/bin/sh", arguments: ["-c", "exec head -c 200000 /dev/zero"],
                                       maxOutputSize: 1000)
                Issue.record("expected outputTooLarge")
            } catch let error as ProcessError {
                #expect(error.code == .outputTooLarge)
                #expect(error.message.contains("1000"))
            }
        }
    }

    @Test("kill(signal:) and terminate() deliver signals; a bad signal is a UVError")
    func signals() async throws {
        try await onHub {
            let child = try Command.spawn("sleep", arguments: ["60"])
            #expect(throws: UVError.self) { try child.kill(signal: 12345) }
            try child.terminate()
            #expect(try child.wait(timeout: .seconds(30)) == .signaled(SIGTERM))
            try child.kill()  // after exit: nothing
        }
    }

    @Test("no descriptor and no child outlives runs, streams, timeouts and failed spawns")
    func nothingLeaks() async {
        // Process-wide counts: in a process of its own.
        await #expect(processExitsWith: .success) {
            var before = 0
            var after = 0
            try Hub.run {
                _ = try Command.run("true")  // libuv's one-time SIGCHLD machinery
                before = openFileDescriptorCount()
                for _ in 0..<10 {
                    _ = try Command.run("cat", input: Array("hello".utf8))
                    _ = try? Command.run("weave-no-such-program-xyz")
                    _ = try? Command.run("sleep", arguments: ["60"], timeout: .milliseconds(10))
                    let cat = try Command.spawn("cat")
                    cat.standardInput?.close()
                    _ = try cat.wait()
                    cat.close()
                }
                try Coroutine.yield()  // pipe handles finish closing
                after = openFileDescriptorCount()
                _ = try Command.spawn("sleep", arguments: ["60"])  // left to shutdown
            }
            guard after == before else {
                print("descriptors before: \(before), after: \(after)")
                exit(3)
            }
            // Every child was reaped: nothing left to wait for.
            var status: Int32 = 0
            guard waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD else { exit(4) }
        }
    }

    @Test("processID and parentProcessID, and a child sees us as its parent")
    func processIDs() async throws {
        let output = try await onHub { try Command.run("/bin/sh", arguments: ["-c", "echo $PPID"]).outputString }
        #expect(CurrentProcess.id == getpid())
        #expect(CurrentProcess.parentID == getppid())
        #expect(output == "\(getpid())\n")
    }
}
