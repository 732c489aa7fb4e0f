import Testing
import Weave
import WeaveMemcached
import WeaveTestSupport

@Suite("memcached failures: restarts, garbage, timeouts, cancellation")
struct MemcachedFailureTests {
    @Test("a killed server gives typed errors, a restarted one is reconnected to")
    func restart() async throws {
        try await onHub {
            try withMemcached { processes in
                let memcached = processes[0]
                let client = try MemcachedClient(servers: [memcached.server],
                                                 configuration: .init(connectTimeout: .seconds(2), requestTimeout: .seconds(5)))
                defer { client.close() }
                try client.set("k", "before")
                // A coroutine busy with the server when it dies gets a typed error.
                let busy = try spawn { () throws -> MemcachedError? in
                    while true {
                        do {
                            _ = try client.get("k")
                        } catch let error as MemcachedError {
                            return error
                        }
                        try Coroutine.yield()
                    }
                }
                try Coroutine.sleep(for: .milliseconds(50))
                try memcached.kill()
                let inFlight = try busy.join()
                try check(inFlight?.code == .connectionFailed, "in-flight caller: \(String(describing: inFlight))")
                try checkThrows(.connectionFailed) { try client.get("k") }
                try check(client.openConnectionCount(to: memcached.server) == 0, "dead connections are closed")
                try memcached.restart()
                try check(try client.get("k") == nil, "the restarted server is empty, and answers")
                try client.set("k", "after")
                try check(try client.getString("k") == "after", "the pool reconnected")
                client.close()
                try Coroutine.sleep(for: .milliseconds(50))
                try check(openSocketCount(toPort: memcached.port) == 0, "no socket left to the server")
            }
        }
    }

    /// A fake memcached that answers every command line with `reply`.
    private func garbageServer(_ reply: [UInt8]) throws -> StreamServer {
        let server = try StreamServer(port: 0) { connection in
            while let line = try connection.readLine() {
                // A value line (ms) is followed by its data: skip it.
                if line.hasPrefix("ms ") { _ = try connection.readLine() }
                try connection.write(reply)
            }
        }
        try server.start()
        return server
    }

    @Test("malformed replies are protocol errors, and their connection is closed", arguments: [
        "HELLO\r\n", "VA abc\r\n", "VA 3\r\nabcXY", "HD\n", "VA 99999999999\r\n", "VA 2 c\r\nab\r\n",
        "VA 2 f99999999999\r\nab\r\n", "HD  c1\r\n", "VA 2 c1 O\r\nab\r\n", String(repeating: "x", count: 3000),
        "\r\n", "HDX\r\n", "VA -1\r\n",
    ])
    func garbage(reply: String) async throws {
        try await onHub {
            let fake = try garbageServer(Array(reply.utf8))
            defer { try? fake.stop(gracePeriod: .zero) }
            let server = try MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)
            let client = try MemcachedClient(servers: [server])
            defer { client.close() }
            let error = try checkThrows(.protocolError) { try client.getItem("k") }
            try check(error.server == server, "the error names the server: \(error)")
            try check(client.openConnectionCount(to: server) == 0, "the connection was discarded")
        }
    }

    @Test("replies that do not fit the command are protocol errors", arguments: [
        "VA 1\r\nx\r\n", "EN\r\n", "MN\r\n", "HD\r\n",
    ])
    func mismatched(reply: String) async throws {
        try await onHub {
            let fake = try garbageServer(Array(reply.utf8))
            defer { try? fake.stop(gracePeriod: .zero) }
            let server = try MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)
            let client = try MemcachedClient(servers: [server])
            defer { client.close() }
            // ma wants a number (VA x is not), ms wants HD with its CAS.
            try checkThrows(.protocolError) { try client.increment("k") }
            try checkThrows(.protocolError) { try client.set("k", "v") }
            try check(client.openConnectionCount(to: server) == 0, "the connections were discarded")
        }
    }

    @Test("error lines: ERROR and CLIENT_ERROR are client errors, SERVER_ERROR a server error with its text")
    func errorLines() async throws {
        try await onHub {
            for (reply, code) in [("ERROR\r\n", MemcachedError.Code.clientError), ("CLIENT_ERROR bad data chunk\r\n", .clientError),
                                  ("SERVER_ERROR out of memory\r\n", .serverError)] {
                let fake = try garbageServer(Array(reply.utf8))
                defer { try? fake.stop(gracePeriod: .zero) }
                let client = try MemcachedClient(servers: [MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)])
                defer { client.close() }
                let error = try checkThrows(code) { try client.get("k") }
                try check(reply.contains("_ERROR") ? error.message.contains(reply.split(separator: " ", maxSplits: 1)[1].dropLast(2)) : true,
                          "the server's text is kept: \(error)")
            }
        }
    }

    @Test("a server that closes the connection is a connection failure")
    func closedByServer() async throws {
        try await onHub {
            let fake = try StreamServer(port: 0) { connection in _ = try connection.readLine() }
            try fake.start()
            defer { try? fake.stop(gracePeriod: .zero) }
            let client = try MemcachedClient(servers: [MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)])
            defer { client.close() }
            try checkThrows(.connectionFailed) { try client.get("k") }
        }
    }

    /// A fake server that reads and never answers.
    private func silentServer() throws -> StreamServer {
        let server = try StreamServer(port: 0) { connection in
            while try connection.readLine() != nil {}
        }
        try server.start()
        return server
    }

    @Test("a request timeout throws TimeoutError and discards the connection")
    func requestTimeout() async throws {
        try await onHub {
            let fake = try silentServer()
            defer { try? fake.stop(gracePeriod: .zero) }
            let server = try MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)
            let client = try MemcachedClient(servers: [server], configuration: .init(requestTimeout: .milliseconds(100)))
            defer { client.close() }
            do {
                _ = try client.get("k")
                throw TestFailure("a silent server answered")
            } catch is TimeoutError {}
            try check(client.openConnectionCount(to: server) == 0, "the timed-out connection was closed")
        }
    }

    @Test("cancelling a caller discards its connection; a full pool makes the next caller time out")
    func cancellationAndPoolWait() async throws {
        try await onHub {
            let fake = try silentServer()
            defer { try? fake.stop(gracePeriod: .zero) }
            let server = try MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)
            let client = try MemcachedClient(servers: [server], configuration: .init(
                maximumConnectionsPerServer: 1, poolWaitTimeout: .milliseconds(100), requestTimeout: nil))
            defer { client.close() }
            let stuck = try spawn { try client.get("k") }
            // Bounded: a loaded machine may take a while to connect.
            for _ in 0..<3_000 where client.openConnectionCount(to: server) == 0 { try Coroutine.sleep(for: .milliseconds(10)) }
            try check(client.openConnectionCount(to: server) == 1, "the stuck caller holds the only connection")
            do {
                _ = try client.get("other")
                throw TestFailure("got a connection from a full pool")
            } catch let error as TimeoutError {
                try check(error.operation.contains("waiting for a connection"), "the pool wait timed out: \(error)")
            }
            stuck.cancel()
            do {
                _ = try stuck.join()
                throw TestFailure("the cancelled caller returned")
            } catch is CancellationError {}
            try check(client.openConnectionCount(to: server) == 0, "the cancelled caller's connection was closed")
        }
    }

    @Test("a closed client throws closed; a refused connection is a connection failure")
    func closedAndRefused() async throws {
        try await onHub {
            let closed = try RefusingLoopbackPort()
            defer { closed.close() }
            let client = try MemcachedClient("127.0.0.1:\(closed.port)")
            let error = try checkThrows(.connectionFailed) { try client.get("k") }
            try check(error.underlying is UVError, "the libuv error is kept: \(error)")
            client.close()
            try checkThrows(.closed) { try client.get("k") }
        }
    }
}
