import HTTPTypes
import Testing
import Weave
import WeaveHTTP
import WeaveTestSupport

/// Answers the client tests' paths: `/` hello, `/echo` the body back (Content-Length),
/// `/chunked` the body back in pieces (chunked), `/r/N` a redirect chain ending at `/r/0`,
/// `/see-other` 303 to `/method`, which names the method and body length, `/cut` a body
/// cut short by the server.
let clientTestHandler: HTTPServer.Handler = { request, response in
    let path = request.head.path ?? "/"
    switch path {
    case "/":
        try response.respond(HTTPResponse(status: .ok), body: "Hello, World!")
    case "/echo":
        let body = try request.readAll(maxBytes: 1 << 20)
        try response.writeHead(HTTPResponse(status: .ok), contentLength: body.count)
        try response.write(body)
        try response.finish()
    case "/chunked":
        let body = try request.readAll(maxBytes: 1 << 20)
        try response.writeHead(HTTPResponse(status: .ok))
        var index = 0
        while index < body.count {
            let end = min(index + 7, body.count)
            try response.write(Array(body[index..<end]))
            index = end
        }
        try response.finish()
    case "/method":
        let body = try request.readAll(maxBytes: 1 << 20)
        try response.respond(HTTPResponse(status: .ok), body: "\(request.head.method.rawValue) \(body.count)")
    case "/temporary":
        _ = try request.readAll(maxBytes: 1 << 20)
        try response.respond(HTTPResponse(status: .temporaryRedirect, headerFields: [.location: "/method"]), body: "")
    case "/moved":
        _ = try request.readAll(maxBytes: 1 << 20)
        try response.respond(HTTPResponse(status: .movedPermanently, headerFields: [.location: "method"]), body: "")
    case "/see-other":
        _ = try request.readAll(maxBytes: 1 << 20)
        try response.respond(HTTPResponse(status: .seeOther, headerFields: [.location: "/method"]), body: "")
    case "/close":
        try response.respond(HTTPResponse(status: .ok, headerFields: [.connection: "close"]), body: "bye")
    case "/cut":
        try response.writeHead(HTTPResponse(status: .ok), contentLength: 1000)
        try response.write("only the start")
        throw CancelledResponse()
    default:
        if path.hasPrefix("/r/"), let count = Int(path.dropFirst(3)) {
            if count == 0 {
                try response.respond(HTTPResponse(status: .ok), body: "arrived")
            } else {
                try response.respond(HTTPResponse(status: .found, headerFields: [.location: "/r/\(count - 1)"]), body: "moved")
            }
        } else {
            try response.respond(HTTPResponse(status: .notFound), body: "not found")
        }
    }
}

struct CancelledResponse: Error {}

@Suite("HTTP client", .timeLimit(.minutes(2)))
struct HTTPClientTests {
    @Test("GET and POST with Content-Length and chunked bodies both ways")
    func bodiesBothWays() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                let base = "http://127.0.0.1:\(port)"
                let hello = try client.get(base + "/")
                #expect(hello.status == .ok)
                #expect(hello.expectedContentLength == 13)
                #expect(try hello.text() == "Hello, World!")

                let payload = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
                let echoed = try client.post(base + "/echo", body: .bytes(payload))
                #expect(try echoed.readAll() == payload)

                // A chunked request body, answered with a chunked response.
                let streamed = try client.post(base + "/chunked", body: .stream { writer in
                    for start in stride(from: 0, to: payload.count, by: 1000) {
                        try writer.write(Array(payload[start..<min(start + 1000, payload.count)]))
                    }
                })
                #expect(streamed.expectedContentLength == nil)
                #expect(try streamed.readAll() == payload)

                // A streamed body of declared length.
                let sized = try client.put(base + "/echo", body: .stream(length: 11) { try $0.write("hello"); try $0.write(" world") })
                #expect(try sized.text() == "hello world")

                // Read in small pieces through read(into:).
                let pieces = try client.post(base + "/chunked", body: .bytes(payload))
                var collected: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 3)
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try pieces.read(into: $0) }
                    if count == 0 { break }
                    collected += buffer[..<count]
                }
                #expect(collected == payload)
                #expect(pieces.isComplete)
                #expect(server.acceptedCount == 1)
            }
        }
    }

    @Test("a streamed body shorter than its declared length fails with a typed error")
    func streamedLengthMismatch() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                let error = #expect(throws: HTTPClientError.self) {
                    _ = try client.post("http://127.0.0.1:\(port)/echo", body: .stream(length: 10) { try $0.write("short") })
                }
                #expect(error?.code == .requestBodyLengthMismatch)
            }
        }
    }

    @Test("keep-alive: sequential requests reuse one connection")
    func keepAliveReuse() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                for _ in 0..<10 {
                    let text = try client.get("http://127.0.0.1:\(port)/").text()
                    #expect(text == "Hello, World!")
                }
                #expect(server.acceptedCount == 1)
                #expect(client.openConnectionCount == 1)
                #expect(client.idleConnectionCount == 1)

                // A response that says Connection: close is read whole, then its connection closed.
                let closing = try client.get("http://127.0.0.1:\(port)/close")
                #expect(try closing.text() == "bye")
                #expect(client.openConnectionCount == 0)
                let after = try client.get("http://127.0.0.1:\(port)/").text()
                #expect(after == "Hello, World!")
                #expect(server.acceptedCount == 2)
            }
        }
    }

    @Test("a response abandoned mid-body closes its connection instead of returning it")
    func abandonedResponseNotReused() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                let payload = [UInt8](repeating: 65, count: 100_000)
                let response = try client.post("http://127.0.0.1:\(port)/echo", body: .bytes(payload))
                var buffer = [UInt8](repeating: 0, count: 10)
                _ = try buffer.withUnsafeMutableBytes { try response.read(into: $0) }
                response.close()
                #expect(client.openConnectionCount == 0)
                #expect(try client.get("http://127.0.0.1:\(port)/").text() == "Hello, World!")
                #expect(server.acceptedCount == 2)
            }
        }
    }

    @Test("pool limit: a request waits for a free connection and fails after the wait timeout")
    func poolLimitAndWaitTimeout() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                var configuration = HTTPClient.Configuration()
                configuration.maxConnectionsPerHost = 1
                configuration.poolWaitTimeout = .milliseconds(200)
                let client = HTTPClient(configuration: configuration)
                let url = "http://127.0.0.1:\(port)/"
                let held = try client.get(url)  // body unread: its connection stays busy
                let error = #expect(throws: HTTPClientError.self) { _ = try client.get(url) }
                #expect(error?.code == .poolTimeout)

                // A waiter gets the connection as soon as the body is read.
                let waiter = try spawn { try client.get(url).text() }
                try Coroutine.sleep(for: .milliseconds(20))
                #expect(try held.text() == "Hello, World!")
                #expect(try waiter.join(timeout: .seconds(10)) == "Hello, World!")
                #expect(server.acceptedCount == 1)
            }
        }
    }

    @Test("redirects are followed, bounded, and 303 turns a POST into a GET")
    func redirects() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let base = "http://127.0.0.1:\(port)"
                let client = HTTPClient()
                let followed = try client.get(base + "/r/3")
                #expect(followed.status == .ok)
                #expect(followed.redirectCount == 3)
                #expect(followed.url == base + "/r/0")
                #expect(try followed.text() == "arrived")

                let seeOther = try client.post(base + "/see-other", body: .string("payload"))
                #expect(try seeOther.text() == "GET 0")
                // 307 resends the method and body; 301 turns a POST into a GET (a relative Location).
                #expect(try client.post(base + "/temporary", body: .string("payload")).text() == "POST 7")
                #expect(try client.put(base + "/temporary", body: .string("payload")).text() == "PUT 7")
                #expect(try client.post(base + "/moved", body: .string("payload")).text() == "GET 0")
                // A streamed body cannot be resent: the 307 itself is returned.
                let streamed = try client.post(base + "/temporary", body: .stream { try $0.write("once") })
                #expect(streamed.status == .temporaryRedirect)
                streamed.close()

                var bounded = HTTPClient.Configuration()
                bounded.maxRedirects = 2
                let error = #expect(throws: HTTPClientError.self) { _ = try HTTPClient(configuration: bounded).get(base + "/r/3") }
                #expect(error?.code == .tooManyRedirects)

                var unfollowed = HTTPClient.Configuration()
                unfollowed.followRedirects = false
                let raw = try HTTPClient(configuration: unfollowed).get(base + "/r/1")
                #expect(raw.status == .found)
                #expect(raw.headerFields[.location] == "/r/0")
                #expect(server.acceptedCount == 3)
            }
        }
    }

    @Test("a server that closes mid-response gives a typed error; the connection is not reused")
    func serverClosesMidResponse() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                let response = try client.get("http://127.0.0.1:\(port)/cut")
                #expect(response.expectedContentLength == 1000)
                let error = #expect(throws: HTTPClientError.self) { _ = try response.readAll() }
                #expect(error?.code == .connectionClosed)
                #expect(client.openConnectionCount == 0)
                #expect(try client.get("http://127.0.0.1:\(port)/").text() == "Hello, World!")
                #expect(server.acceptedCount == 2)
            }
        }
    }

    @Test("typed errors: invalid URL, unsupported scheme, refused connection, body too large")
    func typedErrors() async throws {
        try await onHub {
            let client = HTTPClient()
            #expect(throws: HTTPClientError.self) { _ = try client.get("no scheme") }
            #expect((try? client.get("http://")) == nil)
            let scheme = #expect(throws: HTTPClientError.self) { _ = try client.get("ftp://127.0.0.1/") }
            #expect(scheme?.code == .unsupportedScheme)
            let invalid = #expect(throws: HTTPClientError.self) { _ = try client.get("http://127.0.0.1/a b") }
            #expect(invalid?.code == .invalidURL)
            let refused = #expect(throws: HTTPClientError.self) { _ = try client.get("http://127.0.0.1:1/") }
            #expect(refused?.code == .connectFailed)

            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let response = try client.post("http://127.0.0.1:\(port)/echo", body: .bytes([UInt8](repeating: 1, count: 2000)))
                let large = #expect(throws: HTTPClientError.self) { _ = try response.readAll(maxBytes: 100) }
                #expect(large?.code == .bodyTooLarge)
                #expect(client.openConnectionCount == 0)
            }
        }
    }

    @Test("200 requests over 8 pooled connections leave no connection open")
    func noLeaks() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                var configuration = HTTPClient.Configuration()
                configuration.maxConnectionsPerHost = 8
                let client = HTTPClient(configuration: configuration)
                let workers = try (0..<16).map { _ in
                    try spawn {
                        for _ in 0..<(200 / 16 + 1) {
                            _ = try client.get("http://127.0.0.1:\(port)/").text()
                        }
                    }
                }
                for worker in workers { try worker.join(timeout: .seconds(60)) }
                #expect(server.acceptedCount <= 8)
                #expect(client.openConnectionCount == server.acceptedCount)
                client.close()
                #expect(client.openConnectionCount == 0)
                // The server sees every connection end; no socket to the port stays open.
                for _ in 0..<200 where server.http.connectionCount > 0 || openTCPConnections(port: port) > 0 {
                    try Coroutine.sleep(for: .milliseconds(10))
                }
                #expect(server.http.connectionCount == 0)
                #expect(openTCPConnections(port: port) == 0)
            }
        }
    }
}
