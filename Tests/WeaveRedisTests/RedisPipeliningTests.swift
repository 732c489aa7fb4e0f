import Testing
import Weave
import WeaveRedis
import WeaveTestSupport

@Suite("Redis pipelining and transactions")
struct RedisPipeliningTests {
    @Test("1,000 coroutines x 100 INCRs on one connection: the exact total, each caller its own reply")
    func automaticPipelining() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                let mismatches = Box(0)
                let workers = try (0..<1_000).map { index in
                    try spawn(stackSize: 64 * 1024) {
                        let key = "own:\(index)"
                        for round in 1...100 {
                            try redis.increment("total")
                            // A reply handed to the wrong caller shows up here.
                            if try redis.increment(key) != round { mismatches.value += 1 }
                        }
                    }
                }
                try joinAll(workers)
                #expect(mismatches.value == 0)
                #expect(try redis.get("total") == "100000")
                #expect(redis.pendingReplyCount == 0)
            }
        }
    }

    @Test("An explicit pipeline returns every reply in order, server errors in place")
    func explicitPipeline() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                let replies = try redis.pipeline { pipeline in
                    pipeline.send("SET", "a", "1")
                    pipeline.send(["INCR", "a"])
                    pipeline.send(["HSET", "a", "f", "v"])  // WRONGTYPE
                    for _ in 0..<1_000 { pipeline.send(["INCR", "n"]) }
                    pipeline.send(bytes: [Array("GET".utf8), Array("a".utf8)])
                }
                #expect(replies.count == 1_004)
                #expect(replies[0] == .simpleString("OK"))
                #expect(replies[1] == .integer(2))
                guard case .error(let message) = replies[2] else { Issue.record("no error: \(replies[2])"); return }
                #expect(message.hasPrefix("WRONGTYPE"))
                #expect(replies[1_002] == .integer(1_000))
                #expect(replies[1_003] == .bulkString(Array("2".utf8)))
                #expect(try redis.pipeline { _ in } == [])
            }
        }
    }

    @Test("MULTI/EXEC runs atomically; a WATCH conflict aborts it; a refused command is EXECABORT")
    func transactions() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                let other = try RedisConnection.connect(configuration)
                defer { other.close() }
                let results = try redis.transaction { tx in
                    tx.send("SET", "balance", "100")
                    tx.send("DECRBY", "balance", "30")
                    tx.send("LPUSH", "balance", "x")  // fails at EXEC, the others still run
                }
                #expect(results?.count == 3)
                #expect(results?[1] == .integer(70))
                if case .error = results?[2] {} else { Issue.record("no WRONGTYPE: \(String(describing: results))") }

                // WATCH, then someone else changes the key: EXEC does nothing.
                try redis.watch(["balance"])
                let seen = Int(try redis.get("balance")!)!
                try other.set("balance", "0")
                let aborted = try redis.transaction { tx in tx.send("SET", "balance", String(seen - 10)) }
                #expect(aborted == nil)
                #expect(try redis.get("balance") == "0")

                // WATCH without interference: it runs.
                try redis.watch(["balance"])
                let applied = try redis.transaction { tx in tx.send("INCRBY", "balance", "5") }
                #expect(applied == [.integer(5)])

                // UNWATCH forgets the keys.
                try redis.watch(["balance"])
                try other.set("balance", "1")
                try redis.unwatch()
                #expect(try redis.transaction { tx in tx.send("INCR", "balance") } == [.integer(2)])

                let refused = #expect(throws: RedisError.self) {
                    try redis.transaction { tx in tx.send("NOSUCHCOMMAND") }
                }
                #expect(refused?.code == .server)
                #expect(refused?.serverErrorPrefix == "EXECABORT")
                #expect(try redis.ping() == "PONG")
            }
        }
    }

    @Test("GET as text and as bytes, interleaved on one connection: each caller gets its own value, in its form")
    func textAndBytesReplies() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                let values = (0..<20).map { index in
                    index % 2 == 0 ? "v\(index)" : String(repeating: "\u{e9}\(index)", count: 40 * index)
                }
                for (index, value) in values.enumerated() { try redis.set("t\(index)", value) }
                let mismatches = Box(0)
                let workers = try (0..<200).map { worker in
                    try spawn {
                        for round in 0..<20 {
                            let index = (worker + round) % values.count
                            switch (worker + round) % 3 {
                            case 0:
                                if try redis.get("t\(index)") != values[index] { mismatches.value += 1 }
                            case 1:
                                if try redis.getBytes("t\(index)") != Array(values[index].utf8) { mismatches.value += 1 }
                            default:
                                let replies = try redis.pipeline { $0.send("GET", "t\(index)"); $0.send("GET", "missing") }
                                if replies != [.bulkString(Array(values[index].utf8)), .null] { mismatches.value += 1 }
                            }
                        }
                        if try redis.get("missing") != nil { mismatches.value += 1 }
                    }
                }
                try joinAll(workers)
                #expect(mismatches.value == 0)
                // A GET of a key holding a list is the server's error, as before.
                _ = try redis.send(["RPUSH", "list", "x"])
                let error = #expect(throws: RedisError.self) { try redis.get("list") }
                #expect(error?.code == .server)
            }
        }
    }
}
