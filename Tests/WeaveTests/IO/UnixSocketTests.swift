import Glibc
import Testing
import Weave
import WeaveTestSupport

/// A socket path unique to this process and call, short enough for `sun_path`.
func temporarySocketPath(_ tag: String) -> String {
    "/tmp/weave-\(getpid())-\(tag)-\(UInt32.random(in: 0...UInt32.max)).sock"
}

private func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

@Suite("Unix domain stream sockets")
struct UnixSocketTests {
    @Test("round trips through a UnixStreamServer; stop removes the socket file")
    func roundTrip() async throws {
        let path = temporarySocketPath("echo")
        let (lines, existed, removed) = try await onHub { () throws -> ([String?], Bool, Bool) in
            let server = try UnixStreamServer(path: path) { connection in
                while let line = try connection.readLine() { try connection.write("echo: \(line)\n") }
            }
            try server.start()
            let existed = fileExists(path)
            let client = try UnixConnection.connect(path: path, timeout: .seconds(10))
            var lines: [String?] = []
            for word in ["one", "two"] {
                try client.write("\(word)\n")
                lines.append(try client.readLine(timeout: .seconds(10)))
            }
            try client.shutdownWrite()
            lines.append(try client.readLine(timeout: .seconds(10)))
            client.close()
            try server.stop()
            return (lines, existed, !fileExists(path))
        }
        #expect(lines == ["echo: one", "echo: two", nil])
        #expect(existed)
        #expect(removed)
    }

    @Test("bad paths and missing sockets are typed errors naming the path")
    func errors() async throws {
        let path = temporarySocketPath("missing")
        let (tooLong, missing) = try await onHub { () throws -> (IOError.Code?, String) in
            var tooLong: IOError.Code?
            do { _ = try UnixConnection.connect(path: "/tmp/" + String(repeating: "x", count: 200)) } catch let error as IOError {
                tooLong = error.code
            }
            do {
                _ = try UnixConnection.connect(path: path, timeout: .seconds(10))
            } catch let error as UVError {
                return (tooLong, error.description)
            }
            return (tooLong, "connected?!")
        }
        #expect(tooLong == .invalidAddress)
        #expect(missing.contains(path))
        #expect(missing.contains("ENOENT"))
    }

    @Test("a stale socket file is removed only when asked; a live one never")
    func staleSocket() async throws {
        let path = temporarySocketPath("stale")
        let (refused, reboundOK, liveRefused) = try await onHub { () throws -> (String, Bool, String) in
            // Leave a socket file nobody listens on, as a dead process would.
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            Glibc.close(fd)
            guard bound == 0 else { return ("bind failed", false, "") }
            var refused = "bound?!"
            do { _ = try UnixListener.bind(path: path) } catch let error as UVError { refused = error.name }
            let listener = try UnixListener.bind(path: path, removingStaleSocket: true)
            let accepted = try spawn { try listener.accept(timeout: .seconds(10)) }
            let client = try UnixConnection.connect(path: path, timeout: .seconds(10))
            let server = try accepted.join()
            try client.write("x")
            let reboundOK = try server.read(exactly: 1, timeout: .seconds(10)) == [UInt8(ascii: "x")]
            client.close()
            server.close()
            var liveRefused = "bound?!"
            do {
                _ = try UnixListener.bind(path: path, removingStaleSocket: true)
            } catch let error as UVError {
                liveRefused = error.name
            }
            listener.close()
            return (refused, reboundOK, liveRefused)
        }
        #expect(refused == "EADDRINUSE")
        #expect(reboundOK)
        #expect(liveRefused == "EADDRINUSE")
        #expect(!fileExists(path))
    }

    @Test("stopping a UnixStreamServer with clients connected frees every socket (child process)")
    func stopFreesDescriptors() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let before = openFileDescriptorCount(kind: "socket:")
            var during = 0
            do { try Hub.run {
                let path = temporarySocketPath("fds")
                let server = try UnixStreamServer(path: path) { connection in
                    while let line = try connection.readLine() { try connection.write(line + "\n") }
                }
                try server.start()
                let clients = try (0..<50).map { _ in try UnixConnection.connect(path: path, timeout: .seconds(10)) }
                for client in clients {
                    try client.write("hi\n")
                    guard try client.readLine(timeout: .seconds(10)) == "hi" else { exit(20) }
                }
                during = openFileDescriptorCount(kind: "socket:")
                // Handlers blocked in readLine are cancelled after the grace period.
                try server.stop(gracePeriod: .milliseconds(50))
                for client in clients {
                    guard try client.readLine(timeout: .seconds(10)) == nil else { exit(21) }
                    client.close()
                }
            } } catch {
                FileHandleStandardError.write("child failed: \(error)\n")
                exit(13)
            }
            let after = openFileDescriptorCount(kind: "socket:")
            guard during >= before + 101 else {
                FileHandleStandardError.write("child failed: during \(during), before \(before)\n")
                exit(11)
            }
            guard after == before else {
                FileHandleStandardError.write("child failed: after \(after), before \(before)\n")
                exit(12)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
