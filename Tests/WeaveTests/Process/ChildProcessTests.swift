import Glibc
import TestTasks
import Testing
import Weave
import WeaveTestSupport

/// A child running `task` in the test worker program.
func testChild<Task: ProcessTask>(_ task: Task) throws -> ChildProcess<Task> {
    try ChildProcess(task, executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"])
}

@Suite("ChildProcess", .timeLimit(.minutes(3)))
struct ChildProcessTests {
    @Test("join returns the task's output, and the child exits with status 0")
    func joinReturnsOutput() async throws {
        try await onHub {
            let child = try testChild(Square(12))
            #expect(child.pid > 0)
            #expect(try child.join(timeout: .seconds(30)) == 144)
            #expect(child.exitStatus == .exited(0))
            #expect(!child.isRunning)
            let pidChild = try testChild(WorkerPID())
            #expect(try pidChild.join(timeout: .seconds(30)) == pidChild.pid)
        }
    }

    @Test("an error thrown in the child comes back with its type and message")
    func remoteError() async throws {
        try await onHub {
            let child = try testChild(Throwing("bad input 9"))
            do {
                _ = try child.join(timeout: .seconds(30))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.remote?.typeName == "TestTasks.TestFailure")
                #expect(error.message.contains("bad input 9"))
            }
        }
    }

    @Test("a child silent in the middle of its answer is killed after frameTimeout; join throws malformedFrame")
    func partialAnswer() async throws {
        try await onHub {
            let child = try ChildProcess(
                WritePartialFrame(), executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"],
                frameTimeout: .milliseconds(300))
            #expect {
                _ = try child.join(timeout: .seconds(30))
            } throws: { error in
                guard let error = error as? ProcessError else { return false }
                return error.code == .malformedFrame && error.message.contains("then nothing for")
            }
            #expect(child.exitStatus == .signaled(SIGKILL))
            #expect(throws: WeaveError.self) {
                _ = try ChildProcess(Square(2), executable: testWorkerPath, frameTimeout: .zero)
            }
        }
    }

    @Test("a killed child fails join with workerDied naming the signal")
    func killedChild() async throws {
        try await onHub {
            let child = try testChild(Hang(seconds: 30))
            try Coroutine.sleep(for: .milliseconds(100))
            child.kill()
            do {
                _ = try child.join(timeout: .seconds(30))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .workerDied)
                #expect(error.signal == SIGKILL)
                #expect(error.message.contains("SIGKILL"))
            }
            #expect(child.exitStatus == .signaled(SIGKILL))

            let crashing = try testChild(Crash(signal: SIGABRT))
            #expect(throws: ProcessError.self) { try crashing.join(timeout: .seconds(30)) }
            #expect(crashing.exitStatus == .signaled(SIGABRT))
        }
    }

    @Test("join times out while the child runs; terminate then ends it")
    func joinTimeout() async throws {
        try await onHub {
            let child = try testChild(Hang(seconds: 30))
            #expect(throws: TimeoutError.self) { try child.join(timeout: .milliseconds(100)) }
            #expect(child.isRunning)
            child.terminate()
            #expect(throws: ProcessError.self) { try child.join(timeout: .seconds(30)) }
            #expect(child.exitStatus == .signaled(SIGTERM))
        }
    }

    @Test("a missing executable is spawnFailed; a handle outside ChildProcess cannot be encoded")
    func badInputs() async throws {
        try await onHub {
            do {
                _ = try ChildProcess(Square(1), executable: "/nonexistent/weave-worker")
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .spawnFailed)
                #expect(error.message.contains("ENOENT"))
            }
            let (_, end) = try ProcessPipe.makePair()
            #expect(throws: WeaveError.self) { try BinaryEncoder().encode(PipeGreeter(pipe: end)) }
            let pool = try testPool(workers: 1)
            #expect(throws: WeaveError.self) { try pool.apply(PipeGreeter(pipe: end)) }
        }
    }

    @Test("the hub's shutdown kills and reaps a child still running")
    func shutdownReaps() async throws {
        let pid = try await onHub {
            try testChild(Hang(seconds: 30)).pid
        }
        #expect(!isAlive(pid))
        #expect(!childProcessIDs().contains(pid))
    }

    @Test("no descriptor is left open in the parent after children with pipes and shared state finish")
    func noDescriptorLeak() async {
        await #expect(processExitsWith: .success) {
            func round() throws {
                let (mine, theirs) = try ProcessPipe.makePair()
                let child = try testChild(PipeDoubler(pipe: theirs, count: 2))
                try mine.send(1)
                try mine.send(2)
                _ = try mine.receive(Int.self, timeout: .seconds(30))
                _ = try mine.receive(Int.self, timeout: .seconds(30))
                _ = try child.join(timeout: .seconds(30))
                mine.close()
                let queue = ProcessQueue<Int>()
                let producer = try testChild(QueueProducer(queue: queue, start: 0, count: 3))
                for _ in 0..<3 { _ = try queue.get(timeout: .seconds(30)) }
                _ = try producer.join(timeout: .seconds(30))
                let pids = ManagedDictionary<String, Int32>()
                let list = ManagedList<Int32>()
                _ = try testChild(RecordPID(name: "a", pids: pids, list: list)).join(timeout: .seconds(30))
                let lock = ProcessLock()
                let log = ManagedList<String>()  // kept alive while the child uses it
                _ = try testChild(LockedAppend(lock: lock, list: log, rounds: 2)).join(timeout: .seconds(30))
                try Coroutine.sleep(for: .milliseconds(50))
            }
            var counts: [Int] = []
            do { try Hub.run {
                try round()  // warm-up: libuv's signal pipe and the like stay open for good
                counts.append(openFileDescriptorCount())
                try round()
                try round()
                counts.append(openFileDescriptorCount())
            } } catch { say("error \(error)"); exit(4) }
            if counts[0] != counts[1] { say("descriptors before \(counts[0]), after \(counts[1])") }
            exit(counts[0] == counts[1] ? 0 : 3)
        }
    }
}

func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
