import Glibc
import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

/// What the readlink of descriptor `fd` of this process says (`pipe:[1234]`).
private func descriptorTarget(_ fd: Int32) -> String {
    var target = [CChar](repeating: 0, count: 256)
    let length = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
    return length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
}

/// The descriptor numbers in `listing` (lines of `ls /proc/self/fd`), sorted.
private func numbers(_ listing: [String]) -> [Int] {
    listing.compactMap { Int($0.trimmingCharacters(in: " ")) }.sorted()
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

/// Issue 12, item 13: a worker or child holds exactly the descriptors it is given, and none
/// of them survives its exec of another program.
@Suite("Spawned descriptors", .timeLimit(.minutes(3)))
struct SpawnDescriptorTests {
    @Test("children hold only what they are given, even with a plain pipe() open in the parent")
    func noStrayDescriptors() async {
        await #expect(processExitsWith: .success) {
            // A pipe without O_CLOEXEC, as any library might leave open.
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { exit(10) }
            let leaked = [descriptorTarget(fds[0]), descriptorTarget(fds[1])]
            do {
                try Hub.run {
                    // A program: its stdin, stdout, stderr and its own listing handle.
                    let listing = try Command.run("/bin/ls", arguments: ["/proc/self/fd"], timeout: .seconds(30))
                    guard numbers(listing.outputString.split(separator: "\n").map(String.init)) == [0, 1, 2, 3] else { exit(2) }
                    // A ChildProcess and a pool worker: not the parent's pipe.
                    let child = try testChild(ListDescriptors()).join(timeout: .seconds(30))
                    guard !child.isEmpty, !child.contains(where: { line in leaked.contains { line.hasSuffix("-> \($0)") } }) else { exit(3) }
                    let pool = try testPool(workers: 1)
                    let worker = try pool.apply(ListDescriptors(), timeout: .seconds(30))
                    guard !worker.isEmpty, !worker.contains(where: { line in leaked.contains { line.hasSuffix("-> \($0)") } }) else { exit(4) }
                }
            } catch {
                exit(5)
            }
            exit(0)
        }
    }

    @Test("a program a child or worker starts inherits none of its channel or link descriptors", arguments: HelperLauncher.allCases)
    func execInheritsNoLinks(launcher: HelperLauncher) async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(ExecListDescriptors(launcher: launcher, queue: queue, pipe: theirs))
            #expect(try mine.receive(Int.self, timeout: .seconds(30)) == 1)
            // stdin, stdout, stderr and ls's own handle on /proc/self/fd: not fd 3 (the
            // channel) nor 4 and 5 (the queue's link and the pipe end).
            #expect(numbers(try child.join(timeout: .seconds(30))) == [0, 1, 2, 3])
            let pool = try testPool(workers: 1)
            #expect(numbers(try pool.apply(ExecListDescriptors(launcher: launcher), timeout: .seconds(30))) == [0, 1, 2, 3])
        }
    }

    @Test("a ProcessLock held by a child that dies is released at once, though a program it started lives on", arguments: HelperLauncher.allCases)
    func lockReleasedDespiteHelper(launcher: HelperLauncher) async throws {
        try await onHub {
            let lock = ProcessLock()
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(LockSpawnHelperThenDie(lock: lock, pipe: theirs, launcher: launcher))
            let helper = try mine.receive(Int32.self, timeout: .seconds(30))
            defer { kill(helper, SIGKILL) }
            #expect(throws: ProcessError.self) { try child.join(timeout: .seconds(30)) }
            #expect(isAlive(helper))  // `sleep 30` still runs
            // Released as the child died; before the fix, held until the helper exited.
            try lock.acquire(timeout: .seconds(5))
            #expect(lock.ownerDeaths == 1)
            try lock.release()
        }
    }

    @Test("a ProcessQueue get pending in a consumer that dies does not swallow the next item, though its helper lives on", arguments: HelperLauncher.allCases)
    func queueGetWithdrawnDespiteHelper(launcher: HelperLauncher) async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(QueueGetWithHelper(queue: queue, pipe: theirs, launcher: launcher))
            let helper = try mine.receive(Int32.self, timeout: .seconds(30))
            defer { kill(helper, SIGKILL) }
            for _ in 0..<3_000 where queue.waitingGetters == 0 {   // the child's get reaches the parent
                try Coroutine.sleep(for: .milliseconds(10))
            }
            #expect(queue.waitingGetters == 1)
            child.kill()
            #expect(throws: ProcessError.self) { try child.join(timeout: .seconds(30)) }
            #expect(isAlive(helper))
            // The link's end may be read just after the exit: bounded, well under the helper's 30 s.
            for _ in 0..<500 where queue.waitingGetters != 0 {
                try Coroutine.sleep(for: .milliseconds(10))
            }
            #expect(queue.waitingGetters == 0)
            try queue.put(7)
            #expect(try queue.get(timeout: .seconds(2)) == 7)
        }
    }
}
