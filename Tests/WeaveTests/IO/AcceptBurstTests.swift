import CLibUV
import Glibc
import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport

/// How many SYN (or other) segments the kernel retransmitted on `fd`: a SYN dropped
/// because the listener's accept queue was full is retried after a second.
private func retransmissions(fd: Int32) -> UInt32 {
    var info = tcp_info()
    var length = socklen_t(MemoryLayout<tcp_info>.size)
    guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return .max }
    return info.tcpi_total_retrans
}

/// Open libuv handles of `loop` that are not closing.
private func openHandleCount(_ loop: UnsafeMutablePointer<uv_loop_t>) -> Int {
    var count = 0
    withUnsafeMutablePointer(to: &count) { counter in
        uv_walk(loop, { handle, counter in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            counter!.assumingMemoryBound(to: Int.self).pointee += 1
        }, counter)
    }
    return count
}

@Suite("accepting bursts of connections")
struct AcceptBurstTests {
    @Test("64 coroutines connecting back to back: every connection accepted, no SYN dropped by a full accept queue")
    func tcpBurstNeverOverflows() async throws {
        let (accepted, retransmitted) = try await onHub { () throws -> (Int, Int) in
            let clientCount = 64, connectsEach = 16
            // A small backlog: the listener must keep the kernel's queue empty, not rely on it.
            let listener = try TCPListener.bind(port: 0, backlog: 128)
            let port = listener.localAddress!.port
            var served: [TCPConnection] = []
            let acceptor = try spawn {
                while served.count < clientCount * connectsEach {
                    served.append(try listener.accept(timeout: .seconds(30)))
                }
            }
            var retransmitted = 0
            let clients = try (0..<clientCount).map { _ in
                try spawn(stackSize: 64 * 1024) { () throws -> [TCPConnection] in
                    try (0..<connectsEach).map { _ in
                        let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
                        if retransmissions(fd: connection.fileDescriptor ?? -1) != 0 { retransmitted += 1 }
                        return connection
                    }
                }
            }
            let open = try clients.flatMap { try $0.join() }
            try acceptor.join()
            let accepted = served.count
            for connection in open + served { connection.close() }
            listener.close()
            return (accepted, retransmitted)
        }
        #expect(accepted == 64 * 16)
        #expect(retransmitted == 0, "connections whose SYN had to be sent again")
    }

    @Test("Unix sockets: 64 coroutines connecting back to back past the backlog are all accepted, none refused with EAGAIN")
    func unixBurstIsAccepted() async throws {
        let path = "/tmp/weave-accept-burst-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let (accepted, failures) = try await onHub { () throws -> (Int, [String]) in
            let clientCount = 64, connectsEach = 8
            // A full Unix listen queue refuses a connect at once (EAGAIN): no retry hides it.
            // The backlog holds one wave of connects (one per client), not two.
            let listener = try UnixListener.bind(path: path, backlog: 80)
            var served: [UnixConnection] = []
            let acceptor = try spawn {
                while served.count < clientCount * connectsEach {
                    served.append(try listener.accept(timeout: .seconds(30)))
                }
            }
            var failures: [String] = []
            let clients = try (0..<clientCount).map { _ in
                try spawn(stackSize: 64 * 1024) { () throws -> [UnixConnection] in
                    var open: [UnixConnection] = []
                    for _ in 0..<connectsEach {
                        do { open.append(try UnixConnection.connect(path: path, timeout: .seconds(30))) }
                        catch { failures.append("\(error)") }
                    }
                    return open
                }
            }
            let open = try clients.flatMap { try $0.join() }
            if failures.isEmpty { try acceptor.join() } else { acceptor.cancel() }
            let accepted = served.count
            for connection in open + served { connection.close() }
            listener.close()
            return (accepted, failures)
        }
        #expect(failures.isEmpty, "\(failures.count) failed connects, first: \(failures.first ?? "")")
        #expect(accepted == 64 * 8)
    }

    @Test("closing a listener closes the connections it accepted that nobody claimed; handles back to baseline")
    func unclaimedConnectionsCloseWithListener() async throws {
        let (queued, leftOpen, endsSeen) = try await onHub { () throws -> (Int, Int, Int) in
            let loop = Hub.current!.loop
            let listener = try TCPListener.bind(port: 0)
            let port = listener.localAddress!.port
            let baseline = openHandleCount(loop)
            let clients = try (0..<20).map { _ in try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10)) }
            let deadline = ContinuousClock.now + .seconds(10)
            while listener.acceptedCount < 20 && ContinuousClock.now < deadline {
                try Coroutine.sleep(for: .milliseconds(2))
            }
            let queued = listener.acceptedCount
            listener.close()
            // Their peers closed: each client reads the end of the stream.
            var endsSeen = 0
            for client in clients where try client.read(upTo: 1, timeout: .seconds(10)).isEmpty { endsSeen += 1 }
            for client in clients { client.close() }
            try Coroutine.sleep(for: .milliseconds(10))
            // The listener's handle and the 20 unclaimed ones are gone, the clients' too.
            return (queued, openHandleCount(loop) - (baseline - 1), endsSeen)
        }
        #expect(queued == 20)
        #expect(leftOpen == 0)
        #expect(endsSeen == 20)
    }

    @Test("stopping a StreamServer with connections still waiting to be claimed frees every socket (child process)")
    func serverStopWithQueuedConnections() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let before = openFileDescriptorCount(kind: "socket:")
            var during = 0
            do { try Hub.run {
                let release = Event()
                // One handler at a time, and it waits: the other connections stay queued.
                let server = try StreamServer(port: 0, maxConnections: 1) { _ in try release.wait() }
                try server.start()
                let port = server.localAddress!.port
                let clients = try (0..<50).map { _ in try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10)) }
                let deadline = ContinuousClock.now + .seconds(10)
                // The listener, 50 clients and their 50 accepted peers.
                while openFileDescriptorCount(kind: "socket:") < before + 101 && ContinuousClock.now < deadline {
                    try Coroutine.sleep(for: .milliseconds(5))
                }
                during = openFileDescriptorCount(kind: "socket:")
                try server.stop(gracePeriod: .milliseconds(10))
                for client in clients { client.close() }
            } } catch {
                FileHandleStandardError.write("child failed: \(error)\n")
                exit(13)
            }
            let after = openFileDescriptorCount(kind: "socket:")
            guard during == before + 101 else {
                FileHandleStandardError.write("child failed: \(during - before) sockets while queued, expected 101\n")
                exit(11)
            }
            guard after == before else {
                FileHandleStandardError.write("child failed: \(after - before) sockets left after stop\n")
                exit(12)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
