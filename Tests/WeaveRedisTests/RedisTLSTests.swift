import Glibc
import Testing
import Weave
import WeaveRedis
import WeaveTLS
import WeaveTestSupport

@Suite("Redis over TLS")
struct RedisTLSTests {
    @Test("Commands, automatic and explicit pipelining, the pool and pub/sub over TLS")
    func commands() async throws {
        try await withRedisServer(tls: true) { server in
            let configuration = try server.tlsConfiguration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                #expect(redis.description.hasSuffix("(TLS)"))
                try redis.set("greeting", "hello over TLS")
                #expect(try redis.get("greeting") == "hello over TLS")
                // A value larger than a TLS record (16 KiB) comes back whole.
                let large = String(repeating: "0123456789abcdef", count: 8192)
                try redis.set("large", large)
                #expect(try redis.get("large") == large)
                // 50 coroutines on one connection: their commands are pipelined.
                let users = try (0..<50).map { _ in try spawn { try redis.increment("n") } }
                try joinAll(users)
                #expect(try redis.get("n") == "50")
                let replies = try redis.pipeline { pipeline in
                    for index in 0..<16 { pipeline.send("SET", "p\(index)", "\(index)") }
                    pipeline.send("MGET", "p0", "p15")
                }
                #expect(replies.count == 17)
                #expect(replies[16] == .array([.bulkString(Array("0".utf8)), .bulkString(Array("15".utf8))]))

                // A pool's connections all go over TLS, sharing one context.
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 4, waitTimeout: .seconds(10))
                defer { pool.close() }
                let callers = try (0..<100).map { _ in try spawn { try pool.withConnection { try $0.increment("pooled") } } }
                try joinAll(callers)
                #expect(try pool.withConnection { try $0.get("pooled") } == "100")
                #expect(pool.connectionCount <= 4)
                // The server sees the clients on its TLS port.
                let clients = try redis.send(["CLIENT", "LIST"]).string ?? ""
                #expect(clients.contains("laddr=127.0.0.1:\(server.tlsPort!)"))

                let subscription = try RedisSubscription.connect(configuration)
                defer { subscription.close() }
                try subscription.subscribe(["news"])
                #expect(try redis.send("PUBLISH", "news", "over TLS") == .integer(1))
                let message = try subscription.next(timeout: .seconds(10))
                #expect(message?.channel == "news")
                #expect(message?.string == "over TLS")
            }
        }
    }

    @Test("A server certificate from an unknown CA, or for another name, is a TLSError")
    func verification() async throws {
        try await withRedisServer(tls: true) { server in
            let trusted = try server.tlsConfiguration
            try await onHub {
                var untrusted = trusted
                untrusted.tls = .client()  // the system's store does not know the test CA
                let error = #expect(throws: TLSError.self) { try RedisConnection.connect(untrusted) }
                #expect(error?.code == .unknownCertificateAuthority)
                let pool = RedisConnectionPool(configuration: untrusted, maximumConnections: 2)
                defer { pool.close() }
                let poolError = #expect(throws: TLSError.self) { try pool.withConnection { try $0.ping() } }
                #expect(poolError?.code == .unknownCertificateAuthority)
                #expect(pool.connectionCount == 0)
                let subscriptionError = #expect(throws: TLSError.self) { try RedisSubscription.connect(untrusted) }
                #expect(subscriptionError?.code == .unknownCertificateAuthority)

                var otherName = trusted
                otherName.tls?.serverName = "redis.example"
                let mismatch = #expect(throws: TLSError.self) { try RedisConnection.connect(otherName) }
                #expect(mismatch?.code == .hostnameMismatch)
            }
        }
    }

    @Test("The server killed mid-use: a typed error, then the pool reconnects over TLS")
    func serverRestart() async throws {
        try await withRedisServer(tls: true) { server in
            let configuration = try server.tlsConfiguration
            try await onHub {
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 2, waitTimeout: .seconds(10))
                defer { pool.close() }
                _ = try pool.withConnection { try $0.set("before", "1") }
                let blocked = try spawn { try pool.withConnection { try $0.send(["BLPOP", "never", "30"]) } }
                while pool.idleCount > 0 { try Coroutine.sleep(for: .milliseconds(5)) }
                try Coroutine.sleep(for: .milliseconds(50))
                server.kill()
                let error = #expect(throws: RedisError.self) { try blocked.join() }
                #expect(error?.code == .connectionClosed)
                try server.launch()
                #expect(try pool.withConnection { try $0.ping() } == "PONG")
                let callers = try (0..<20).map { _ in try spawn { try pool.withConnection { try $0.increment("after") } } }
                try joinAll(callers)
                #expect(try pool.withConnection { try $0.get("after") } == "20")
                let clients = try pool.withConnection { redis in try redis.send(["CLIENT", "LIST"]) }
                #expect(clients.string?.contains("laddr=127.0.0.1:\(server.tlsPort!)") == true, "\(clients)")
            }
        }
    }

    @Test("Nothing leaks over TLS: sockets, coroutines and TLS sessions back to baseline (child process)")
    func noLeaks() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let server: RedisServerProcess
            let configuration: RedisConfiguration
            do {
                server = try RedisServerProcess.start(tls: true)
                configuration = try server.tlsConfiguration
            } catch {
                failChild("\(error)", status: 13)
            }
            defer { server.stop() }
            let before = openFileDescriptorCount(kind: "socket:")
            do { try Hub.run {
                let baseline = aliveCoroutines()
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 4)
                try joinAll(try (0..<100).map { _ in try spawn { try pool.withConnection { try $0.increment("n") } } })
                // Interrupted: the connection is discarded.
                _ = try? pool.withConnection { try $0.send(["BLPOP", "x", "5"], timeout: .milliseconds(50)) }
                pool.close()
                do {
                    let dropped = try RedisConnection.connect(configuration)
                    try dropped.ping()
                }
                var untrusted = configuration
                untrusted.tls = .client()
                _ = try? RedisConnection.connect(untrusted)
                let subscription = try RedisSubscription.connect(configuration)
                try subscription.subscribe(["c"])
                subscription.close()
                try expectCoroutinesSettle(at: baseline)
            } } catch {
                failChild("\(error)", status: 12)
            }
            expectSocketsBack(to: before)
            let sessions = TLSContext.liveConnectionsInProcess.load(ordering: .relaxed)
            guard sessions == 0 else {
                FileHandleStandardError.write("child failed: \(sessions) TLS connections alive\n")
                exit(14)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
