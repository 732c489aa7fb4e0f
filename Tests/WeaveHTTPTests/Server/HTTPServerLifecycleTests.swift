import HTTPTypes
import Synchronization
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveHTTP

@Suite("HTTP server: lifecycle", .timeLimit(.minutes(2)))
struct HTTPServerLifecycleTests {
    @Test("graceful shutdown closes idle connections at once, finishes requests in flight, accepts no more")
    func gracefulShutdown() async throws {
        try await onHub {
            nonisolated(unsafe) let started = Event()
            nonisolated(unsafe) let release = Event()
            let handler: HTTPServer.Handler = { request, response in
                if request.head.path == "/slow" {
                    started.set()
                    try release.wait(timeout: .seconds(30))
                }
                try response.respond(HTTPResponse(status: .ok), body: "Hello, World!")
            }
            let http = HTTPServer(handler: handler)
            let server = try http.makeStreamServer(port: 0)
            try server.start()
            let port = server.localAddress!.port

            let idle = try HTTPTestClient(port: port)
            try idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try idle.readResponse()?.status == 200)
            let busy = try HTTPTestClient(port: port)
            try busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            try started.wait(timeout: .seconds(30))

            let stopping = try spawn { try http.shutdown(server, gracePeriod: .seconds(30)) }
            // The idle connection ends while the slow request is still held.
            #expect(try idle.isClosedByServer(timeout: .seconds(30)))
            #expect(throws: TimeoutError.self) { try busy.readResponse(timeout: .milliseconds(50)) }
            release.set()
            let finished = try #require(try busy.readResponse())
            #expect(finished.text == "Hello, World!")
            #expect(finished.field("Connection") == "close")
            #expect(try busy.isClosedByServer())
            try stopping.wait()
            #expect(http.connectionCount == 0)
            #expect(throws: (any Error).self) { _ = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)) }
        }
    }

    @Test("a request still running at the end of the grace period is cancelled")
    func gracePeriodEnds() async throws {
        try await onHub {
            nonisolated(unsafe) let started = Event()
            let http = HTTPServer { _, _ in
                started.set()
                try Coroutine.sleep(for: .seconds(60))
            }
            let server = try http.makeStreamServer(port: 0)
            try server.start()
            let client = try HTTPTestClient(port: server.localAddress!.port)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            try started.wait(timeout: .seconds(30))
            try http.shutdown(server, gracePeriod: .milliseconds(100))
            #expect(try client.isClosedByServer())
            #expect(http.connectionCount == 0)
        }
    }

    @Test("one server instance serves on every hub of a group")
    func hubGroup() async throws {
        let served = try await inHubGroup(hubs: 2) { group in
            let hubsSeen = Mutex<Set<Int>>([])
            let http = HTTPServer { request, response in
                try response.respond(HTTPResponse(status: .ok), body: "Hello, World!")
            }
            let server = try http.makeGroupServer(group: group, port: 0)
            try server.start()
            let port = server.localAddress!.port
            // Many connections: the kernel spreads them over both hubs' listeners.
            try withCoroutineGroup { clients in
                for _ in 0..<16 {
                    try clients.spawn {
                        let client = try HTTPTestClient(port: port)
                        for _ in 0..<3 {
                            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                            #expect(try client.readResponse()?.text == "Hello, World!")
                        }
                    }
                }
            }
            _ = hubsSeen
            try http.shutdown(server, gracePeriod: .seconds(5))
            return http.connectionCount
        }
        #expect(served == 0)
    }

    @Test("server-side sockets return to the baseline after normal, aborted and rejected connections")
    func descriptorsBackToBaseline() async throws {
        let configuration = configured { $0.headerTimeout = .milliseconds(200) }
        try await onHub {
            try withHTTPServer(configuration: configuration, handler: echoHandler) { port, http, _ in
                let baseline = openServerSockets(port: port)
                #expect(baseline == 1)  // the listener
                for round in 0..<20 {
                    let client = try HTTPTestClient(port: port)
                    switch round % 4 {
                    case 0:
                        try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                        _ = try client.readResponse()
                    case 1:
                        try client.send("GET /bad path HTTP/1.1\r\n\r\n")
                        _ = try client.readResponse()
                    case 2:
                        try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
                    default:
                        try client.send("GET / HTTP/1.1\r\nHo")
                    }
                    client.connection.close()
                }
                // Every server-side connection ends (the aborted ones by EOF or the header timeout).
                let deadline = ContinuousClock.now + .seconds(30)
                while (http.connectionCount > 0 || openServerSockets(port: port) > baseline) && ContinuousClock.now < deadline {
                    try Coroutine.sleep(for: .milliseconds(20))
                }
                #expect(http.connectionCount == 0)
                #expect(openServerSockets(port: port) == baseline)
            }
        }
    }
}
