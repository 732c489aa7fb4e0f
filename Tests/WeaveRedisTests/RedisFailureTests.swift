import Glibc
import Testing
import Weave
import WeaveRedis
import WeaveTestSupport

@Suite("Redis failures: timeouts, cancellation, malformed replies, leaks")
struct RedisFailureTests {
    @Test("A command timeout discards the connection; the commands behind it get a typed error")
    func commandTimeout() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                let behind = try spawn { try redis.send(["GET", "k"]) }
                #expect(throws: TimeoutError.self) { try redis.send(["BLPOP", "nothing", "10"], timeout: .milliseconds(100)) }
                #expect(redis.isClosed)
                let error = #expect(throws: RedisError.self) { try behind.join() }
                #expect(error?.code == .connectionClosed)
                #expect(error.map { "\($0)" }?.contains("interrupted") == true)
                #expect((#expect(throws: RedisError.self) { try redis.ping() })?.code == .connectionClosed)

                // Through a pool: the connection is not taken back.
                var timed = configuration
                timed.commandTimeout = .milliseconds(100)
                let pool = RedisConnectionPool(configuration: timed, maximumConnections: 1)
                defer { pool.close() }
                #expect(throws: TimeoutError.self) { try pool.withConnection { try $0.send(["BLPOP", "nothing", "10"]) } }
                #expect(pool.connectionCount == 0)
                #expect(try pool.withConnection { try $0.ping() } == "PONG")
            }
        }
    }

    @Test("Cancelling a coroutine mid-command: CancellationError, the connection discarded, the server sees it go")
    func cancellation() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 2)
                defer { pool.close() }
                let admin = try RedisConnection.connect(configuration)
                defer { admin.close() }
                let waiting = try spawn { try pool.withConnection { try $0.send(["BLPOP", "queue", "0"]) } }
                while pool.connectionCount == 0 { try Coroutine.sleep(for: .milliseconds(1)) }
                try Coroutine.sleep(for: .milliseconds(50))
                waiting.cancel()
                #expect(throws: CancellationError.self) { try waiting.join() }
                #expect(pool.connectionCount == 0)
                #expect(pool.idleCount == 0)
                // The server notices the closed socket: only the admin connection is left.
                var clients = 0
                for _ in 0..<1000 {
                    clients = try admin.send(["CLIENT", "LIST"]).string?.split(separator: "\n").count ?? -1
                    if clients == 1 { break }
                    try Coroutine.sleep(for: .milliseconds(10))
                }
                #expect(clients == 1)
                // A value pushed now is not eaten by the abandoned BLPOP.
                try admin.rpush("queue", ["job"])
                #expect(try admin.lpop("queue") == "job")
            }
        }
    }

    /// A fake server answering every request with `reply` (then closing if asked).
    private func withFakeServer(reply: [UInt8], thenClose: Bool = false, _ body: @escaping @Sendable (RedisConfiguration) throws -> Void) async throws {
        try await onHub {
            let server = try StreamServer(host: "127.0.0.1", port: 0, handler: { connection in
                while try connection.read(upTo: 4096).count > 0 {
                    try connection.write(reply)
                    if thenClose { return }
                }
            })
            try server.start()
            defer { try? server.stop(gracePeriod: .milliseconds(100)) }
            try body(RedisConfiguration(host: "127.0.0.1", port: server.localAddress!.port, commandTimeout: .seconds(10)))
        }
    }

    @Test("A malformed reply is a typed protocol error that closes the connection", arguments: [
        "garbage\r\n", ":12a\r\n", "$3\r\nabcdef\r\n", "*1\r\n?\r\n", "+OK\n",
    ])
    func malformed(_ reply: String) async throws {
        try await withFakeServer(reply: Array(reply.utf8)) { configuration in
            let redis = try RedisConnection.connect(configuration)
            defer { redis.close() }
            let behind = try spawn { try redis.send(["GET", "x"]) }
            let error = #expect(throws: RedisError.self) { try redis.ping() }
            #expect(error?.code == .protocolError)
            #expect(redis.isClosed)
            #expect((#expect(throws: RedisError.self) { try behind.join() })?.code == .protocolError)
        }
    }

    @Test("A reply nobody asked for is a protocol error; a connection cut mid-reply is connectionClosed")
    func unsolicitedAndCut() async throws {
        try await withFakeServer(reply: Array("+PONG\r\n+EXTRA\r\n".utf8)) { configuration in
            let redis = try RedisConnection.connect(configuration)
            defer { redis.close() }
            _ = try? redis.ping()
            while !redis.isClosed { try Coroutine.sleep(for: .milliseconds(1)) }
            #expect((#expect(throws: RedisError.self) { try redis.ping() })?.code == .protocolError)
        }
        try await withFakeServer(reply: Array("$10\r\nabc".utf8), thenClose: true) { configuration in
            let redis = try RedisConnection.connect(configuration)
            defer { redis.close() }
            let error = #expect(throws: RedisError.self) { try redis.get("x") }
            #expect(error?.code == .connectionClosed)
        }
        try await withFakeServer(reply: Array("garbage\r\n".utf8)) { configuration in
            let subscription = try RedisSubscription.connect(configuration)
            defer { subscription.close() }
            let error = #expect(throws: RedisError.self) { try subscription.subscribe(["x"]) }
            #expect(error?.code == .protocolError)
        }
    }

    @Test("Connecting to nothing is a typed error, and a connect timeout is a TimeoutError")
    func connectFailures() async throws {
        try await onHub {
            // A port nothing listens on is refused.
            let closed = try RefusingLoopbackPort()
            defer { closed.close() }
            #expect(throws: UVError.self) { try RedisConnection.connect(RedisConfiguration(port: closed.port)) }
            // A server that accepts but never answers HELLO: the connect timeout covers the handshake.
            let silent = try StreamServer(host: "127.0.0.1", port: 0, handler: { connection in
                while try connection.read(upTo: 4096).count > 0 {}
            })
            try silent.start()
            defer { try? silent.stop(gracePeriod: .milliseconds(100)) }
            var configuration = RedisConfiguration(port: silent.localAddress!.port, protocolVersion: .resp3)
            configuration.connectTimeout = .milliseconds(100)
            #expect(throws: TimeoutError.self) { try RedisConnection.connect(configuration) }
        }
    }

    @Test("Nothing leaks: descriptors and coroutines back to their baseline (child process)")
    func noLeaks() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let server: RedisServerProcess
            do { server = try RedisServerProcess.start() } catch {
                failChild("\(error)", status: 13)
            }
            defer { server.stop() }
            let configuration = server.configuration
            let before = openFileDescriptorCount(kind: "socket:")
            do { try Hub.run {
                let baseline = aliveCoroutines()
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 4)
                let users = try (0..<100).map { _ in try spawn { try pool.withConnection { try $0.increment("n") } } }
                try joinAll(users)
                _ = try? pool.withConnection { try $0.send(["BLPOP", "x", "5"], timeout: .milliseconds(50)) }
                let blocked = try spawn { try pool.withConnection { try $0.send(["BLPOP", "x", "5"]) } }
                try Coroutine.sleep(for: .milliseconds(20))
                blocked.cancel()
                _ = try? blocked.join()
                pool.close()
                // Dropped without close(): it closes itself.
                do {
                    let dropped = try RedisConnection.connect(configuration)
                    try dropped.ping()
                }
                let subscription = try RedisSubscription.connect(configuration)
                try subscription.subscribe(["c"])
                subscription.close()
                let shared = try RedisConnection.connect(configuration)
                try joinAll(try (0..<10).map { _ in try spawn { try shared.ping() } })
                shared.close()
                try expectCoroutinesSettle(at: baseline)
            } } catch {
                failChild("\(error)", status: 12)
            }
            expectSocketsBack(to: before)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
