import Glibc
import TestTasks
import Testing
import Weave

/// Process handles are not `Sendable`; one already in use that a `sending` transfer (or
/// unsafe code) moves to another thread traps there, naming itself and its hub. Each case
/// runs in a child process whose exit and stderr are checked.
@Suite("process handle affinity", .timeLimit(.minutes(3)))
struct HandleAffinityTests {
    @Test("a pipe end opened on a hub traps when used from a thread that runs no hub")
    func pipeUsedFromPlainThreadTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                let (mine, theirs) = try ProcessPipe.makePair()
                try mine.send(1)
                #expect(try theirs.receive(Int.self, timeout: .seconds(5)) == 1)
                let moved = Smuggled(mine)
                pthread_join(startThread { try? moved.value.send(2) }, nil)
            }
            exit(0)  // reached only without the trap
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("ProcessPipe(open) belongs to hub 0x"))
        #expect(stderr.contains("used from a thread that runs no hub"))
    }

    @Test("a pipe end opened on one hub traps when used on another hub's thread")
    func pipeUsedFromAnotherHubTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                let (mine, theirs) = try ProcessPipe.makePair()
                try mine.send(1)
                _ = try theirs.receive(Int.self, timeout: .seconds(5))
                let moved = Smuggled(theirs)
                pthread_join(startThread { try? Hub.run { _ = try moved.value.receive(Int.self, timeout: .seconds(1)) } }, nil)
            }
            exit(0)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("ProcessPipe(open) belongs to hub 0x"))
        #expect(stderr.contains("used from the thread of hub 0x"))
    }

    @Test("a shared list whose owner serves a child traps when the owner's handle is used off its hub")
    func managedListUsedOffHubTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                let list = ManagedList<String>(label: "audit log")
                let lock = ProcessLock()
                let child = try ChildProcess(
                    LockedAppend(lock: lock, list: list, rounds: 1), executable: testWorkerPath,
                    environment: ["SWIFT_BACKTRACE": "enable=no"])
                _ = try child.join(timeout: .seconds(30))
                try list.append("owner")  // on its hub: fine
                #expect(try list.snapshot().count == 3)
                let moved = Smuggled(list)
                pthread_join(startThread { try? moved.value.append("elsewhere") }, nil)
            }
            exit(0)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("audit log belongs to hub 0x"))
    }
}

/// Moves a value to another thread against its (non-)`Sendable` contract: what a `sending`
/// transfer of a handle in use amounts to.
private struct Smuggled<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
