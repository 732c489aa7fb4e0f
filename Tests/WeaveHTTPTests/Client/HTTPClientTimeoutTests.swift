import HTTPTypes
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveHTTP

@Suite("HTTP client: timeouts, stale connections, URLs", .timeLimit(.minutes(2)))
struct HTTPClientTimeoutTests {
    /// Answers after `delay`.
    private static func slow(_ delay: Duration) -> HTTPServer.Handler {
        { _, response in
            try Coroutine.sleep(for: delay)
            try response.respond(HTTPResponse(status: .ok), body: "late")
        }
    }

    @Test("a response slower than the read timeout, or than the total timeout, fails with timedOut")
    func readAndTotalTimeouts() async throws {
        try await onHub {
            let server = CountingServer(handler: Self.slow(.milliseconds(600)))
            try server.run { port in
                var configuration = HTTPClient.Configuration()
                configuration.readTimeout = .milliseconds(100)
                let read = #expect(throws: HTTPClientError.self) { _ = try HTTPClient(configuration: configuration).get("http://127.0.0.1:\(port)/") }
                #expect(read?.code == .timedOut)

                let total = #expect(throws: HTTPClientError.self) {
                    _ = try HTTPClient().get("http://127.0.0.1:\(port)/", timeout: .milliseconds(100))
                }
                #expect(total?.code == .timedOut)
            }
        }
    }

    @Test("a pooled connection the server closed while idle is replaced transparently")
    func staleConnectionRetried() async throws {
        try await onHub {
            var configuration = HTTPServer.Configuration()
            configuration.idleTimeout = .milliseconds(50)
            let http = HTTPServer(configuration: configuration, handler: clientTestHandler)
            let listener = try http.makeStreamServer(port: 0)
            try listener.start()
            defer { try? http.shutdown(listener, gracePeriod: .seconds(2)) }
            let url = "http://127.0.0.1:\(listener.localAddress!.port)/"
            let client = HTTPClient()
            #expect(try client.get(url).text() == "Hello, World!")
            #expect(client.idleConnectionCount == 1)
            try Coroutine.sleep(for: .milliseconds(300))  // the server closes it meanwhile
            #expect(try client.get(url).text() == "Hello, World!")
            #expect(try client.post(url + "echo", body: .string("again")).text() == "again")
            #expect(client.openConnectionCount == 1)
        }
    }

    @Test("HEAD has no body and keeps the connection")
    func head() async throws {
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            try server.run { port in
                let client = HTTPClient()
                let response = try client.head("http://127.0.0.1:\(port)/")
                #expect(response.status == .ok)
                #expect(response.isComplete)
                #expect(try response.readAll().isEmpty)
                #expect(try client.get("http://127.0.0.1:\(port)/").text() == "Hello, World!")
                #expect(server.acceptedCount == 1)
            }
        }
    }

    @Test("URLs: parts, default ports, and Location references resolved against them")
    func urls() throws {
        let url = try HTTPClientURL("HTTPS://Example.COM/a/b?q=1#frag")
        #expect(url.isHTTPS && url.host == "example.com" && url.port == 443 && url.target == "/a/b?q=1")
        #expect(url.authority == "example.com")
        #expect(try HTTPClientURL("http://[::1]:8080").authority == "[::1]:8080")
        #expect(try HTTPClientURL("http://h?x").target == "/?x")
        #expect(try url.resolving("/c").description == "https://example.com/c")
        #expect(try url.resolving("c?d").description == "https://example.com/a/c?d")
        #expect(try url.resolving("?z").description == "https://example.com/a/b?z")
        #expect(try url.resolving("//other.org/x").description == "https://other.org/x")
        #expect(try url.resolving("http://other.org:81/").description == "http://other.org:81/")
        for bad in ["http://user@h/", "http://h:0/", "http://h:70000/", "http:/h", "http://h/ x", "http://:80/", "http://h/é"] {
            #expect(throws: HTTPClientError.self, "\(bad)") { _ = try HTTPClientURL(bad) }
        }
    }
}
