import Glibc
import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport

/// A connected pair of Unix stream sockets, closed by the caller.
private func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    let status = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(status == 0, "socketpair failed: \(errno)")
    return (fds[0], fds[1])
}

@Suite("fd readiness: waitReadable, waitWritable, Poller, Poller.select")
struct ReadinessTests {
    @Test("readable only after a write; writable at once; a wait with nothing to read times out")
    func semantics() async throws {
        let (timedOut, becameReadable, writableAtOnce, pollEmpty, pollReady, zeroPoll, watchersLeft) =
            try await onHub { () throws -> (Bool, Bool, Bool, Int, [String], [String], Int) in
                let (a, b) = socketPair()
                defer { Glibc.close(a); Glibc.close(b) }
                var timedOut = false
                do { try waitReadable(fd: a, timeout: .milliseconds(20)) } catch is TimeoutError { timedOut = true }
                try waitWritable(fd: a, timeout: .seconds(10))
                let writer = try spawn {
                    try Coroutine.sleep(for: .milliseconds(10))
                    _ = Glibc.write(b, "x", 1)
                }
                try waitReadable(fd: a, timeout: .seconds(10))
                try writer.join()
                var byte: UInt8 = 0
                let becameReadable = Glibc.read(a, &byte, 1) == 1 && byte == UInt8(ascii: "x")

                let poller = try Poller()
                defer { poller.close() }
                try poller.register(a, for: .readable)
                let pollEmpty = try poller.poll(timeout: .milliseconds(20)).count
                _ = Glibc.write(b, "yz", 2)
                let pollReady = try poller.poll(timeout: .seconds(10)).map { "\($0.fd == a) \($0.events)" }
                try poller.modify(a, for: [.readable, .writable])
                let zeroPoll = try poller.poll(timeout: .zero).map { "\($0.fd == a) \($0.events)" }
                poller.unregister(a)
                return (timedOut, becameReadable, true, pollEmpty, pollReady, zeroPoll, PollTable.of(Hub.current!).watchers.count)
            }
        #expect(timedOut)
        #expect(becameReadable)
        #expect(writableAtOnce)
        #expect(pollEmpty == 0)
        #expect(pollReady == ["true [readable]"])
        #expect(zeroPoll == ["true [readable, writable]"])
        #expect(watchersLeft == 0)
    }

    @Test("two coroutines waiting on one fd both wake; select reports readable and writable sets")
    func twoWaitersAndSelect() async throws {
        let (woken, selected, selectTimeout) = try await onHub { () throws -> (Int, ([Int32], [Int32]), ([Int32], [Int32])) in
            let (a, b) = socketPair()
            defer { Glibc.close(a); Glibc.close(b) }
            let woken = Box(0)
            let waiters = try (0..<2).map { _ in try spawn { try waitReadable(fd: a, timeout: .seconds(10)); woken.value += 1 } }
            try Coroutine.sleep(for: .milliseconds(10))
            _ = Glibc.write(b, "x", 1)
            try joinAll(waiters)
            var byte: UInt8 = 0
            _ = Glibc.read(a, &byte, 1)
            let selectTimeout = try Poller.select(readable: [a, b], timeout: .milliseconds(20))
            _ = Glibc.write(a, "q", 1)
            let selected = try Poller.select(readable: [a, b], writable: [a], timeout: .seconds(10))
            return (woken.value, selected, selectTimeout)
        }
        #expect(woken == 2)
        #expect(selectTimeout.0.isEmpty && selectTimeout.1.isEmpty)
        #expect(selected.0.count == 1)  // b has the byte; a has nothing to read
        #expect(selected.1.count == 1)
    }

    @Test("cancelling a waiter removes the watcher; a closed fd is EBADF, not an abort")
    func cancellationAndClosedFD() async throws {
        let (cancelled, watchersAfterCancel, badFD, pollerError) = try await onHub { () throws -> (Bool, Int, String, String) in
            let table = PollTable.of(Hub.current!)
            let (a, b) = socketPair()
            let blocked = try spawn { try waitReadable(fd: a) }
            try Coroutine.sleep(for: .milliseconds(10))
            let during = table.watchers.count
            blocked.cancel()
            try blocked.wait()
            let watchersAfterCancel = during == 1 ? table.watchers.count : -1
            Glibc.close(a)
            Glibc.close(b)
            // Not `a`: tests run in parallel, and another may already have its number.
            // One below the descriptor limit is never open here.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let closed = Int32(clamping: limit.rlim_cur - 1)
            var badFD = "no error"
            do { try waitReadable(fd: closed, timeout: .seconds(10)) } catch let error as UVError { badFD = error.description }
            let poller = try Poller()
            defer { poller.close() }
            var pollerError = "no error"
            do { try poller.register(closed, for: .readable) } catch let error as UVError { pollerError = error.name }
            return (blocked.error is CancellationError, watchersAfterCancel, badFD, pollerError)
        }
        #expect(cancelled)
        #expect(watchersAfterCancel == 0)
        #expect(badFD.contains("EBADF"))
        #expect(pollerError == "EBADF")
    }

    @Test("a Poller and waitReadable share the fd's one watcher; closing the poller wakes its poll")
    func sharedWatcher() async throws {
        let (both, closedCode) = try await onHub { () throws -> (Bool, IOError.Code?) in
            let (a, b) = socketPair()
            defer { Glibc.close(a); Glibc.close(b) }
            let poller = try Poller()
            try poller.register(a, for: .readable)
            let waiter = try spawn { try waitReadable(fd: a, timeout: .seconds(10)) }
            let polling = try spawn { try poller.poll(timeout: .seconds(10)) }
            try Coroutine.sleep(for: .milliseconds(10))
            _ = Glibc.write(b, "x", 1)
            try waiter.join()
            let both = try polling.join().map(\.fd) == [a]
            // Drain, so the next poll has nothing and blocks until the close.
            var byte: UInt8 = 0
            _ = Glibc.read(a, &byte, 1)
            let blockedPoll = try spawn { try poller.poll() }
            try Coroutine.sleep(for: .milliseconds(10))
            poller.close()
            try blockedPoll.wait()
            return (both, (blockedPoll.error as? IOError)?.code)
        }
        #expect(both)
        #expect(closedCode == .closed)
    }
}
