import Glibc
import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport

@Suite("ReadinessWatch: one fd watcher kept across waits")
struct ReadinessWatchTests {
    @Test("waits reuse the one watcher, which stays until the watch closes; a closed watch refuses waits")
    func keepsOneWatcher() async throws {
        let (sameWatcher, timedOut, readTwice, watchersAfterClose, refused) =
            try await onHub { () throws -> (Bool, Bool, Bool, Int, Bool) in
                var fds: [Int32] = [-1, -1]
                precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
                let (a, b) = (fds[0], fds[1])
                defer { Glibc.close(a); Glibc.close(b) }
                let hub = Hub.current!
                let watch = try ReadinessWatch(fd: a)
                let first = PollTable.of(hub).watchers[a]
                var timedOut = false
                do { try watch.waitReadable(timeout: .milliseconds(20)) } catch is TimeoutError { timedOut = true }
                var byte: UInt8 = 0
                var readTwice = true
                for letter in [UInt8(ascii: "x"), UInt8(ascii: "y")] {
                    let writer = try spawn {
                        try Coroutine.sleep(for: .milliseconds(5))
                        var out = letter
                        _ = Glibc.write(b, &out, 1)
                    }
                    try watch.waitWritable(timeout: .seconds(10))
                    try watch.waitReadable(timeout: .seconds(10))
                    try writer.join()
                    readTwice = readTwice && Glibc.read(a, &byte, 1) == 1 && byte == letter
                }
                let sameWatcher = first != nil && PollTable.of(hub).watchers[a] === first
                watch.close()
                let watchersAfterClose = PollTable.of(hub).watchers.count
                var refused = false
                do { try watch.waitReadable(timeout: .seconds(1)) } catch let error as IOError where error.code == .closed {
                    refused = true
                }
                return (sameWatcher, timedOut, readTwice, watchersAfterClose, refused)
            }
        #expect(sameWatcher)
        #expect(timedOut)
        #expect(readTwice)
        #expect(watchersAfterClose == 0)
        #expect(refused)
    }

    @Test("readable data nobody waits for does not keep waking the hub; the next wait sees it")
    func idleReadiness() async throws {
        let got = try await onHub { () throws -> UInt8 in
            var fds: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
            let (a, b) = (fds[0], fds[1])
            defer { Glibc.close(a); Glibc.close(b) }
            let watch = try ReadinessWatch(fd: a)
            defer { watch.close() }
            // Leaves the read interest armed (lingering) with nothing to read.
            let writer = try spawn { try Coroutine.sleep(for: .milliseconds(5)); _ = Glibc.write(b, "p", 1) }
            try watch.waitReadable(timeout: .seconds(10))
            try writer.join()
            var byte: UInt8 = 0
            _ = Glibc.read(a, &byte, 1)
            // Data arrives while nobody waits: the lingering interest fires once and is dropped.
            _ = Glibc.write(b, "q", 1)
            try Coroutine.sleep(for: .milliseconds(20))
            try watch.waitReadable(timeout: .seconds(10))
            _ = Glibc.read(a, &byte, 1)
            return byte
        }
        #expect(got == UInt8(ascii: "q"))
    }
}
