import Glibc
import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport

@Suite("TCP connections, listener and StreamServer")
struct TCPTests {
    @Test("echo round trips through a StreamServer, lines, exact reads and half-close")
    func roundTrips() async throws {
        let (lines, exact, tail) = try await onHub { () throws -> ([String], [UInt8], [UInt8]) in
            let server = try StreamServer(port: 0) { connection in
                while let line = try connection.readLine() { try connection.write("echo: \(line)\n") }
            }
            try server.start()
            let client = try TCPConnection.connect(host: "127.0.0.1", port: server.localAddress!.port, timeout: .seconds(10))
            var lines: [String] = []
            for word in ["one", "two", "three"] {
                try client.write("\(word)\r\n")
                lines.append(try client.readLine(timeout: .seconds(10)) ?? "<end>")
            }
            try client.write("abcdef\n")
            let exact = try client.read(exactly: 6, timeout: .seconds(10))
            _ = try client.readLine()
            try client.write("last\n")
            try client.shutdownWrite()
            let tail = try client.read(upTo: 100, timeout: .seconds(10))
            #expect(try client.readLine(timeout: .seconds(10)) == nil)
            client.close()
            try server.stop(gracePeriod: .seconds(5))
            return (lines, exact, tail)
        }
        #expect(lines == ["echo: one", "echo: two", "echo: three"])
        #expect(exact == Array("echo: ".utf8))
        #expect(String(decoding: tail, as: UTF8.self) == "echo: last\n")
    }

    @Test("connecting to a closed port is ECONNREFUSED, naming the address")
    func refused() async throws {
        let description = try await onHub { () throws -> String in
            let closed = try RefusingLoopbackPort()
            defer { closed.close() }
            do {
                _ = try TCPConnection.connect(host: "127.0.0.1", port: closed.port, timeout: .seconds(10))
            } catch let error as UVError {
                return error.description
            }
            return "connected?!"
        }
        #expect(description.hasPrefix("connect 127.0.0.1:"))
        #expect(description.contains("ECONNREFUSED"))
    }

    @Test("a 64 MiB write to a slow reader parks the writer and all bytes arrive")
    func bigWriteToSlowReader() async throws {
        let (received, checksumOK) = try await onHub { () throws -> (Int, Bool) in
            let listener = try TCPListener.bind(port: 0)
            let writer = try spawn(name: "writer") {
                let connection = try listener.accept(timeout: .seconds(10))
                var chunk = [UInt8](repeating: 0, count: 1 << 20)
                for index in 0..<64 {
                    for offset in stride(from: 0, to: chunk.count, by: 4096) { chunk[offset] = UInt8(truncatingIfNeeded: index) }
                    try connection.write(chunk, timeout: .seconds(60))
                }
                connection.close()
            }
            let reader = try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port)
            reader.readAheadLimit = 64 * 1024
            var received = 0
            var checksumOK = true
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                let count = try reader.read(into: buffer, timeout: .seconds(60))
                if count == 0 { break }
                var offset = (4096 - received % 4096) % 4096
                while offset < count {
                    if buffer[offset] != UInt8(truncatingIfNeeded: (received + offset) >> 20) { checksumOK = false }
                    offset += 4096
                }
                received += count
                if received % (4 << 20) < count { try Coroutine.sleep(for: .milliseconds(1)) }
            }
            try writer.join()
            return (received, checksumOK)
        }
        #expect(received == 64 << 20)
        #expect(checksumOK)
    }

    @Test("peer reset in the middle of a read is a clear error")
    func peerReset() async throws {
        let errorName = try await onHub { () throws -> String in
            let listener = try TCPListener.bind(port: 0)
            let resetter = try spawn {
                let connection = try listener.accept(timeout: .seconds(10))
                // SO_LINGER 0: close sends RST instead of FIN.
                let fd = connection.fileDescriptor!
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                try connection.write("partial")
                try Coroutine.sleep(for: .milliseconds(20))
                connection.close()
            }
            let client = try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port)
            _ = try client.read(exactly: 7, timeout: .seconds(10))
            do {
                _ = try client.read(upTo: 100, timeout: .seconds(10))
            } catch let error as UVError {
                try resetter.join()
                return error.name
            }
            return "no error"
        }
        #expect(errorName == "ECONNRESET")
    }

    @Test("cancelling a blocked read leaks nothing and leaves other connections alone; close wakes a reader")
    func cancelAndCloseWhileReading() async throws {
        let (cancelled, closedCode, otherStillWorks) = try await onHub { () throws -> (Bool, IOError.Code?, String?) in
            let server = try StreamServer(port: 0) { connection in
                while let line = try connection.readLine() { try connection.write(line + "\n") }
            }
            try server.start()
            let port = server.localAddress!.port
            let first = try TCPConnection.connect(host: "127.0.0.1", port: port)
            let second = try TCPConnection.connect(host: "127.0.0.1", port: port)
            let blocked = try spawn { try first.readLine() }
            let closedReader = try spawn { try second.readLine() }
            try Coroutine.sleep(for: .milliseconds(5))
            blocked.cancel()
            try blocked.wait()
            second.close()
            try closedReader.wait()
            try first.write("still here\n")
            let answer = try first.readLine(timeout: .seconds(10))
            first.close()
            try server.stop()
            return (blocked.error is CancellationError, (closedReader.error as? IOError)?.code, answer)
        }
        #expect(cancelled)
        #expect(closedCode == .closed)
        #expect(otherStillWorks == "still here")
    }

    @Test("2,000 concurrent connections; fd count back to its baseline afterwards (child process)")
    func manyConnections() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            // Sockets only: libuv's process-wide signal pipe and the test runner's own
            // descriptors come and go independently.
            let before = openFileDescriptorCount(kind: "socket:")
            var during = 0
            var answered = 0
            do { try Hub.run {
                // A backlog above the burst: past it the kernel parks handshakes for seconds.
                let server = try StreamServer(port: 0, backlog: 4096) { connection in
                    while let line = try connection.readLine() { try connection.write(line + "\n") }
                }
                try server.start()
                let port = server.localAddress!.port
                let gate = Event()
                let clients = try (0..<2_000).map { index in
                    try spawn(stackSize: 64 * 1024) {
                        let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
                        defer { connection.close() }
                        try gate.wait()
                        try connection.write("hello \(index)\n")
                        if try connection.readLine(timeout: .seconds(30)) == "hello \(index)" { answered += 1 }
                    }
                }
                while server.connectionCount < 2_000 && clients.allSatisfy({ !$0.isFinished }) {
                    try Coroutine.sleep(for: .milliseconds(5))
                }
                during = openFileDescriptorCount(kind: "socket:")
                gate.set()
                try joinAll(clients)
                try server.stop()
            } } catch {
                // Say why in the parent's report.
                FileHandleStandardError.write("child failed: \(error)\n")
                exit(13)
            }
            let after = openFileDescriptorCount(kind: "socket:")
            guard answered == 2_000 else { exit(10) }
            guard during >= before + 4_000 else { exit(11) }
            guard after == before else { exit(12) }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
