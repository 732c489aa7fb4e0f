import Testing
import Weave
import WeaveRedis
import WeaveTestSupport

@Suite("Redis commands against a real redis-server")
struct RedisCommandTests {
    @Test("Every typed helper round-trips", arguments: [RedisConfiguration.ProtocolVersion.resp2, .resp3])
    func helpers(_ version: RedisConfiguration.ProtocolVersion) async throws {
        try await withRedisServer { server in
            let configuration = server.configuration(version)
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                #expect(try redis.ping() == "PONG")
                // Strings, expiry, conditions.
                #expect(try redis.get("missing") == nil)
                #expect(try redis.set("name", "weave"))
                #expect(try redis.get("name") == "weave")
                #expect(try redis.set("name", "other", condition: .ifNotExists) == false)
                #expect(try redis.set("absent", "x", condition: .ifExists) == false)
                #expect(try redis.set("name", "gevent", condition: .ifExists))
                #expect(try redis.set("binary", bytes: [0, 255, 13, 10]))
                #expect(try redis.getBytes("binary") == [0, 255, 13, 10])
                #expect(try redis.timeToLive("name") == .noExpiry)
                #expect(try redis.timeToLive("missing") == .noKey)
                try redis.set("short", "lived", expiration: .after(.seconds(100)))
                guard case .expires(let left) = try redis.timeToLive("short") else { Issue.record("no expiry"); return }
                #expect(left > .seconds(90) && left <= .seconds(100))
                try redis.set("short", "kept", expiration: .keepExisting)
                #expect(try redis.timeToLive("short") != .noExpiry)
                #expect(try redis.expire("name", after: .seconds(50)))
                #expect(try redis.expire("missing", after: .seconds(50)) == false)
                #expect(try redis.exists(["name", "short", "missing", "name"]) == 3)
                #expect(try redis.delete(["name", "missing"]) == 1)
                #expect(try redis.exists(["name"]) == 0)
                // Counters.
                #expect(try redis.increment("counter") == 1)
                #expect(try redis.increment("counter", by: 41) == 42)
                #expect(try redis.increment("counter", by: -2) == 40)
                // Hashes.
                #expect(try redis.hset("user", field: "name", value: "ada"))
                #expect(try redis.hset("user", fields: [("name", "ada l."), ("lang", "swift")]) == 1)
                #expect(try redis.hget("user", field: "name") == "ada l.")
                #expect(try redis.hget("user", field: "none") == nil)
                #expect(try redis.hgetall("user") == ["name": "ada l.", "lang": "swift"])
                #expect(try redis.hgetall("missing") == [:])
                // Lists.
                #expect(try redis.rpush("list", ["b", "c"]) == 2)
                #expect(try redis.lpush("list", ["a"]) == 3)
                #expect(try redis.lrange("list", from: 0, to: -1) == ["a", "b", "c"])
                #expect(try redis.lpop("list") == "a")
                #expect(try redis.lpop("missing") == nil)
                // Sets.
                #expect(try redis.sadd("set", ["x", "y", "x"]) == 2)
                #expect(try redis.smembers("set") == ["x", "y"])
                // Sorted sets.
                #expect(try redis.zadd("board", [("bob", 2.5), ("amy", 1), ("cat", -3)]) == 3)
                #expect(try redis.zrange("board", from: 0, to: -1) == ["cat", "amy", "bob"])
                let scored = try redis.zrangeWithScores("board", from: 0, to: 1)
                #expect(scored.map(\.member) == ["cat", "amy"])
                #expect(scored.map(\.score) == [-3, 1])
                // Scripts.
                #expect(try redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", keys: ["counter"], arguments: ["2"]) == .integer(42))
                #expect(try redis.eval("return {1, 'two'}") == .array([.integer(1), .bulkString(Array("two".utf8))]))
                // Any command.
                #expect(try redis.send(["ECHO", "hi"]) == .bulkString(Array("hi".utf8)))
                #expect(try redis.send("STRLEN", "binary") == .integer(4))
                #expect(try redis.send(bytes: [Array("ECHO".utf8), [0, 1, 2]]) == .bulkString([0, 1, 2]))
                if version == .resp3 {
                    // RESP3 types come through as themselves.
                    #expect(try redis.send(["HGETALL", "user"]).array?.count == 4)
                    if case .map = try redis.send(["HGETALL", "user"]) {} else { Issue.record("HGETALL is not a map in RESP3") }
                    #expect(try redis.send(["ZSCORE", "board", "bob"]) == .double(2.5))
                }
            }
        }
    }

    @Test("A server error is a typed error with its message, and the connection goes on")
    func serverError() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let redis = try RedisConnection.connect(configuration)
                defer { redis.close() }
                try redis.set("text", "abc")
                let error = #expect(throws: RedisError.self) { try redis.increment("text") }
                #expect(error?.code == .server)
                #expect(error?.serverErrorPrefix == "ERR")
                #expect(error?.serverMessage?.contains("not an integer") == true)
                #expect(error?.message.contains("INCR") == true)
                let wrongType = #expect(throws: RedisError.self) { try redis.lpush("text", ["x"]) }
                #expect(wrongType?.serverErrorPrefix == "WRONGTYPE")
                let unknown = #expect(throws: RedisError.self) { try redis.send(["NOSUCHCOMMAND"]) }
                #expect(unknown?.code == .server)
                let subscribe = #expect(throws: RedisError.self) { try redis.send(["subscribe", "x"]) }
                #expect(subscribe?.code == .unsupported)
                #expect(!redis.isClosed)
                #expect(try redis.get("text") == "abc")
            }
        }
    }

    @Test("AUTH, SELECT and HELLO on connect; a wrong password is a typed connect error", arguments: [RedisConfiguration.ProtocolVersion.resp2, .resp3])
    func handshake(_ version: RedisConfiguration.ProtocolVersion) async throws {
        try await withRedisServer { server in
            let configuration = server.configuration(version)
            try await onHub {
                let admin = try RedisConnection.connect(configuration)
                defer { admin.close() }
                try admin.send(["CONFIG", "SET", "requirepass", "sesame"])
                var good = configuration
                good.password = "sesame"
                good.database = 3
                good.clientName = "weave-test"
                let redis = try RedisConnection.connect(good)
                defer { redis.close() }
                try redis.set("where", "db3")
                #expect(try redis.send(["CLIENT", "GETNAME"]).string == "weave-test")
                var other = good
                other.database = 0
                let zero = try RedisConnection.connect(other)
                defer { zero.close() }
                #expect(try zero.get("where") == nil)
                if version == .resp3 {
                    guard case .map(let pairs) = try redis.send(["HELLO"]) else { Issue.record("HELLO is not a map"); return }
                    #expect(pairs.contains { $0.key.string == "proto" && $0.value == .integer(3) })
                }
                var bad = configuration
                bad.password = "wrong"
                let error = #expect(throws: RedisError.self) { try RedisConnection.connect(bad) }
                #expect(error?.code == .connectFailed)
                #expect((error?.underlying as? RedisError)?.code == .server)
                var unknownDatabase = good
                unknownDatabase.database = 9999
                let selectError = #expect(throws: RedisError.self) { try RedisConnection.connect(unknownDatabase) }
                #expect(selectError?.code == .connectFailed)
            }
        }
    }
}
