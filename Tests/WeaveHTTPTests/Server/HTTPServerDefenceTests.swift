import HTTPTypes
import Synchronization
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveHTTP

@Suite("HTTP server: defences", .timeLimit(.minutes(2)))
struct HTTPServerDefenceTests {
    static let malformed: [(String, Int)] = [
        ("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: t\r\nA: b\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: t\n\n", 400),
        ("GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ]

    @Test("malformed requests get their error status and a closed connection", arguments: 0..<malformed.count)
    func malformedRequests(index: Int) async throws {
        let (request, status) = Self.malformed[index]
        try await onHub {
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send(request)
                let response = try #require(try client.readResponse())
                #expect(response.status == status)
                #expect(response.field("Connection") == "close")
                #expect(try client.isClosedByServer())
            }
        }
    }

    @Test("a head past the size limit gets 431")
    func headTooLarge() async throws {
        let configuration = configured { $0.maxHeadBytes = 512 }
        try await onHub {
            try withHTTPServer(configuration: configuration, handler: echoHandler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n")
                #expect(try client.readResponse()?.status == 431)
                #expect(try client.isClosedByServer())
            }
        }
    }

    @Test("a body past the limit gets 413: a declared one before the handler runs, a chunked one when read")
    func bodyTooLarge() async throws {
        let configuration = configured { $0.maxBodyBytes = 10 }
        try await onHub {
            let calls = Box(0)
            nonisolated(unsafe) let counter = calls
            let handler: HTTPServer.Handler = { request, response in
                counter.value += 1
                try echoHandler(request, response)
            }
            try withHTTPServer(configuration: configuration, handler: handler) { port, _, _ in
                let declared = try HTTPTestClient(port: port)
                try declared.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n")
                #expect(try declared.readResponse()?.status == 413)
                #expect(try declared.isClosedByServer())
                #expect(calls.value == 0)

                let chunked = try HTTPTestClient(port: port)
                try chunked.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n")
                #expect(try chunked.readResponse()?.status == 413)
                #expect(try chunked.isClosedByServer())
                #expect(calls.value == 1)

                let fits = try HTTPTestClient(port: port)
                try fits.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
                #expect(try fits.readResponse()?.text == "0123456789")
            }
        }
    }

    @Test("a head that arrives too slowly gets 408; a silent connection is closed")
    func headerTimeout() async throws {
        let configuration = configured { $0.headerTimeout = .milliseconds(300) }
        try await onHub {
            try withHTTPServer(configuration: configuration, handler: echoHandler) { port, _, _ in
                let slow = try HTTPTestClient(port: port)
                try slow.send("GET / HTTP/1.1\r\nHo")
                let response = try #require(try slow.readResponse())
                #expect(response.status == 408)
                #expect(try slow.isClosedByServer())

                let silent = try HTTPTestClient(port: port)
                #expect(try silent.readResponse() == nil)
            }
        }
    }

    @Test("a slow-header client does not delay the others")
    func slowClientDoesNotBlockOthers() async throws {
        try await onHub {
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                let slow = try HTTPTestClient(port: port)
                try slow.send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                for _ in 0..<3 {
                    let fast = try HTTPTestClient(port: port)
                    for _ in 0..<5 {
                        try fast.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                        #expect(try fast.readResponse()?.text == "Hello, World!")
                    }
                }
                // The slow one is still waiting for its head to complete (10 s by default).
                #expect(throws: TimeoutError.self) { try slow.readResponse(timeout: .milliseconds(100)) }
                try slow.send("x\r\n\r\n")
                #expect(try slow.readResponse()?.text == "Hello, World!")
            }
        }
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleTimeout() async throws {
        let configuration = configured { $0.idleTimeout = .milliseconds(200) }
        try await onHub {
            try withHTTPServer(configuration: configuration, handler: echoHandler) { port, http, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse()?.status == 200)
                #expect(try client.isClosedByServer(timeout: .seconds(30)))
                #expect(http.connectionCount == 0)
            }
        }
    }

    @Test("past the connection limit, a connection waits until another ends")
    func connectionLimit() async throws {
        let configuration = configured { $0.maxConnections = 1 }
        try await onHub {
            try withHTTPServer(configuration: configuration, handler: echoHandler) { port, http, _ in
                let first = try HTTPTestClient(port: port)
                try first.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try first.readResponse()?.status == 200)
                let second = try HTTPTestClient(port: port)
                try second.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(throws: TimeoutError.self) { try second.readResponse(timeout: .milliseconds(200)) }
                #expect(http.connectionCount == 1)
                first.connection.close()
                #expect(try second.readResponse()?.text == "Hello, World!")
            }
        }
    }

    @Test("a client that stops reading a large response holds the handler, not memory")
    func backpressure() async throws {
        let total = 64 << 20
        try await onHub {
            let written = Box(0)
            nonisolated(unsafe) let progress = written
            let handler: HTTPServer.Handler = { _, response in
                try response.writeHead(HTTPResponse(status: .ok), contentLength: total)
                let block = [UInt8](repeating: 0x61, count: 64 * 1024)
                while progress.value < total {
                    try response.write(block)
                    progress.value += block.count
                }
                try response.finish()
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                client.connection.readAheadLimit = 64 * 1024
                try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                try Coroutine.sleep(for: .milliseconds(300))
                let stalled = written.value
                try Coroutine.sleep(for: .milliseconds(300))
                // The handler is parked in a write: what it got rid of is bounded by the
                // kernel's socket buffers, the client's read-ahead and one output buffer.
                #expect(written.value == stalled)
                #expect(stalled < 16 << 20, "\(stalled) bytes accepted while the client read nothing")
                let response = try #require(try client.readResponse())
                #expect(response.body.count == total)
                #expect(written.value == total)
            }
        }
    }
}
