import Glibc
import Testing
import Weave
import WeaveTestSupport

/// One HTTP/1.1 response read off `connection`: the status line and the body (by Content-Length).
private func readResponse(_ connection: TCPConnection) throws -> (status: String, body: String) {
    let status = try #require(try connection.readLine(timeout: .seconds(30)), "the server closed the connection")
    var length = 0
    while let line = try connection.readLine(timeout: .seconds(30)), !line.isEmpty {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == "content-length" {
            length = Int(parts[1].trimmingPrefix(" ")) ?? 0
        }
    }
    let body = try connection.read(exactly: length, timeout: .seconds(30))
    return (status, String(decoding: body, as: UTF8.self))
}

@Suite("http-server sample", .timeLimit(.minutes(2)))
struct HTTPServerSampleTests {
    @Test("GET /spin?us=N computes for N µs and answers 200; a bad N gets 400 on a connection that stays open")
    func spin() async throws {
        try await onHub {
            let executable = testWorkerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/http-server"
            let server = try Command.spawn(
                executable, arguments: ["--port", "0", "--hubs", "2"],
                environment: Command.inheritedEnvironment(adding: ["SWIFT_BACKTRACE": "enable=no"]),
                standardInput: .discard, standardError: .discard, parentDeathSignal: SIGKILL)
            defer {
                try? server.kill()
                _ = try? server.wait(timeout: .seconds(10))
            }
            // "listening on 127.0.0.1:PORT (2 hubs)" once every hub accepts connections.
            let line = try #require(try server.standardOutput!.readLine(timeout: .seconds(60)))
            #expect(line.hasPrefix("listening on 127.0.0.1:"))
            #expect(line.hasSuffix("(2 hubs)"))
            let port = try #require(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })

            let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
            defer { connection.close() }
            let started = ContinuousClock.now
            // Pipelined: each is answered in order on the one connection.
            try connection.write(
                "GET /spin?us=20000 HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET /spin?us=0 HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET /spin HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET /spin?us=abc HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET /spin?us=1000001 HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET /spin?us=100 HTTP/1.1\r\nHost: test\r\n\r\n"
                + "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            let spun = try readResponse(connection)
            // The server computes until its monotonic clock has moved on 20 ms: never sooner.
            #expect(ContinuousClock.now - started >= .milliseconds(20))
            #expect(spun.status == "HTTP/1.1 200 OK")
            #expect(spun.body.count == 17 && spun.body.hasSuffix("\n"))
            #expect(spun.body.dropLast().allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(spun.body)")
            for _ in 0..<4 {
                let bad = try readResponse(connection)
                #expect(bad.status == "HTTP/1.1 400 Bad Request")
                #expect(bad.body.contains("from 1 to 1000000"))
            }
            #expect(try readResponse(connection).status == "HTTP/1.1 200 OK")
            let hello = try readResponse(connection)
            #expect(hello.status == "HTTP/1.1 200 OK")
            #expect(hello.body == "Hello, World!")
        }
    }
}
