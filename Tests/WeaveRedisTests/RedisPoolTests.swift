import Testing
import Weave
import WeaveRedis
import WeaveTestSupport

@Suite("Redis connection pool")
struct RedisPoolTests {
    @Test("Never more than the maximum; past it callers wait, and time out as TimeoutError")
    func limits() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 2, waitTimeout: .milliseconds(100))
                defer { pool.close() }
                let release = Event()
                let holders = try (0..<2).map { _ in
                    try spawn { try pool.withConnection { redis in try redis.ping(); try release.wait() } }
                }
                while pool.connectionCount < 2 { try Coroutine.sleep(for: .milliseconds(1)) }
                #expect(throws: TimeoutError.self) { try pool.withConnection { try $0.ping() } }
                // A waiter is handed the first connection given back.
                let waiter = try spawn { try pool.withConnection(timeout: .seconds(10)) { try $0.increment("n") } }
                try Coroutine.sleep(for: .milliseconds(10))
                release.set()
                try joinAll(holders)
                #expect(try waiter.join() == 1)
                #expect(pool.connectionCount == 2)
                #expect(pool.idleCount == 2)

                // 50 callers through 3 connections.
                let small = RedisConnectionPool(configuration: configuration, maximumConnections: 3, waitTimeout: .seconds(10))
                defer { small.close() }
                let most = Box(0)
                let callers = try (0..<50).map { _ in
                    try spawn {
                        try small.withConnection { redis in
                            most.value = max(most.value, small.connectionCount)
                            try redis.increment("m")
                        }
                    }
                }
                try joinAll(callers)
                #expect(most.value <= 3)
                #expect(try small.withConnection { try $0.get("m") } == "50")
                // The server may take a moment (a loaded machine) to drop sockets closed before.
                var clients = Int.max
                for _ in 0..<1000 {
                    clients = try small.withConnection { try $0.send(["CLIENT", "LIST"]).string ?? "" }.split(separator: "\n").count
                    if clients <= 5 { break }
                    try Coroutine.sleep(for: .milliseconds(10))
                }
                #expect(clients <= 5)
            }
        }
    }

    @Test("A closed pool says so; the connections it lent are closed as they come back")
    func closing() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 1)
                let lent = Box<RedisConnection?>(nil)
                try pool.withConnection { redis in
                    lent.value = redis
                    pool.close()
                    try redis.ping()
                }
                #expect(lent.value?.isClosed == true)
                let error = #expect(throws: RedisError.self) { try pool.withConnection { try $0.ping() } }
                #expect(error?.code == .poolClosed)
            }
        }
    }

    @Test("The server killed mid-use: in-flight callers get a typed error, then the pool reconnects")
    func serverRestart() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let pool = RedisConnectionPool(configuration: configuration, maximumConnections: 4, waitTimeout: .seconds(10))
                defer { pool.close() }
                _ = try pool.withConnection { try $0.set("before", "1") }
                let blocked = try (0..<3).map { index in
                    try spawn { try pool.withConnection { try $0.send(["BLPOP", "never\(index)", "30"]) } }
                }
                while pool.connectionCount < 3 || pool.idleCount > 1 { try Coroutine.sleep(for: .milliseconds(5)) }
                try Coroutine.sleep(for: .milliseconds(50))
                server.kill()
                for coroutine in blocked {
                    let error = #expect(throws: RedisError.self) { try coroutine.join() }
                    #expect(error?.code == .connectionClosed)
                }
                #expect(pool.connectionCount <= 1)
                // While the server is down: a typed connect failure, nothing stuck.
                #expect(throws: (any Error).self) { _ = try pool.withConnection { try $0.ping() } }
                try server.launch()
                #expect(try pool.withConnection { try $0.ping() } == "PONG")
                #expect(try pool.withConnection { try $0.get("before") } == nil)  // no persistence
                let afterwards = try (0..<20).map { _ in try spawn { try pool.withConnection { try $0.increment("after") } } }
                try joinAll(afterwards)
                #expect(try pool.withConnection { try $0.get("after") } == "20")
            }
        }
    }
}
