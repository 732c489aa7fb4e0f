import Testing
import Weave
import WeaveMemcached
import WeaveTestSupport

@Suite("memcached commands against a real server")
struct MemcachedCommandTests {
    @Test("set, get, getString, getItem, add, replace, delete, touch, increment, decrement, getMany")
    func everyCommand() async throws {
        try await onHub {
            try withMemcached { servers in
                let client = try MemcachedClient(servers: [servers[0].server])
                defer { client.close() }
                try check(try client.get("missing") == nil, "a miss is nil")
                let cas1 = try client.set("greeting", "hello", flags: 42)
                try check(try client.getString("greeting") == "hello", "set then get")
                let item = try client.getItem("greeting")
                try check(item?.value == Array("hello".utf8) && item?.flags == 42 && item?.cas == cas1,
                          "getItem returns value, flags and the CAS set returned: \(String(describing: item))")
                try client.set("bytes", [0, 1, 2, 13, 10, 255])
                try check(try client.get("bytes") == [0, 1, 2, 13, 10, 255], "binary values round-trip, \\r\\n included")
                try client.set("empty", [])
                try check(try client.get("empty") == [], "an empty value is not a miss")

                try checkThrows(.notStored) { try client.add("greeting", "again") }
                try client.add("fresh", "new")
                try check(try client.getString("fresh") == "new", "add of a new key stores")
                try checkThrows(.notStored) { try client.replace("absent", "x") }
                try client.replace("fresh", "newer")
                try check(try client.getString("fresh") == "newer", "replace of an existing key stores")

                try check(try client.delete("fresh"), "delete of an existing key")
                try check(try !client.delete("fresh"), "delete of a missing key is false")
                try check(try client.get("fresh") == nil, "deleted")

                try check(try client.touch("greeting", ttl: .seconds(100)), "touch of an existing key")
                try check(try !client.touch("absent", ttl: .seconds(100)), "touch of a missing key is false")

                try checkThrows(.notFound) { try client.increment("counter") }
                try check(try client.increment("counter", initial: 10) == 10, "a created counter holds its initial value")
                try check(try client.increment("counter") == 11, "increment by one")
                try check(try client.increment("counter", by: 5) == 16, "increment by five")
                try check(try client.decrement("counter", by: 6) == 10, "decrement")
                try check(try client.decrement("counter", by: 100) == 0, "decrement stops at zero")
                try check(try client.decrement("counter2", initial: 3) == 3, "decrement creates too")
                try checkThrows(.clientError) { try client.increment("greeting") }

                // (Not "counter": memcached pads a decremented value with spaces where digits were.)
                let many = try client.getMany(["greeting", "bytes", "nothing", "counter2"])
                try check(many == ["greeting": Array("hello".utf8), "bytes": [0, 1, 2, 13, 10, 255], "counter2": Array("3".utf8)],
                          "getMany returns the hits only: \(many)")
                try check(try client.getMany([]) == [:], "getMany of no keys")
            }
        }
    }

    @Test("compare-and-swap: a stale token is EX, a token of a deleted item NF, delete with CAS")
    func compareAndSwap() async throws {
        try await onHub {
            try withMemcached { servers in
                let client = try MemcachedClient(servers: [servers[0].server])
                defer { client.close() }
                try client.set("k", "one")
                let item = try client.getItem("k")!
                let newCAS = try client.set("k", "two", cas: item.cas)
                try check(newCAS != item.cas, "a store changes the CAS token")
                try checkThrows(.exists) { try client.set("k", "three", cas: item.cas) }
                try check(try client.getString("k") == "two", "the losing CAS store changed nothing")
                try checkThrows(.exists) { try client.delete("k", cas: item.cas) }
                try check(try client.delete("k", cas: newCAS), "delete with the current token")
                try checkThrows(.notFound) { try client.set("k", "four", cas: newCAS) }
            }
        }
    }

    @Test("two coroutines race a compare-and-swap: exactly one wins, the other gets EX")
    func casConflictBetweenCoroutines() async throws {
        try await onHub {
            try withMemcached { servers in
                let client = try MemcachedClient(servers: [servers[0].server])
                defer { client.close() }
                try client.set("balance", "100")
                let gate = Event()
                let outcomes = Box<[String]>([])
                let racers = try (0..<2).map { index in
                    try spawn {
                        let item = try client.getItem("balance")!
                        try gate.wait()  // both have read the same token before either stores
                        do {
                            try client.set("balance", "\(Int(item.string)! - 10 * (index + 1))", cas: item.cas)
                            outcomes.value.append("won")
                        } catch let error as MemcachedError where error.code == .exists {
                            outcomes.value.append("exists")
                        }
                    }
                }
                try Coroutine.sleep(for: .milliseconds(50))
                gate.set()
                for racer in racers { try racer.join() }
                try check(outcomes.value.sorted() == ["exists", "won"], "one winner, one EX: \(outcomes.value)")
                let final = try client.getString("balance")
                try check(final == "90" || final == "80", "the winner's value: \(final ?? "nil")")
            }
        }
    }

    @Test("TTL: a value expires, a touch extends, a negative TTL stores an expired value")
    func timeToLive() async throws {
        try await onHub {
            try withMemcached { servers in
                let client = try MemcachedClient(servers: [servers[0].server])
                defer { client.close() }
                try client.set("short", "x", ttl: .seconds(1))
                try client.set("long", "y", ttl: .seconds(1))
                try client.touch("long", ttl: .seconds(60))
                try client.set("gone", "z", ttl: .seconds(-1))
                try check(try client.get("gone") == nil, "a negative TTL is expired at once")
                try check(try client.get("short") != nil, "alive before its TTL")
                // memcached's clock ticks once a second: expiry lands within about two seconds.
                let deadline = ContinuousClock.now + .seconds(10)
                while try client.get("short") != nil {
                    try check(ContinuousClock.now < deadline, "the 1 s value still there after 10 s")
                    try Coroutine.sleep(for: .milliseconds(200))
                }
                try check(try client.getString("long") == "y", "the touched value outlives its first TTL")
                try client.set("far", "w", ttl: .seconds(40 * 24 * 3600))
                try check(try client.getString("far") == "w", "a TTL over 30 days (sent as a Unix time) keeps the value")
            }
        }
    }

    @Test("bad input: invalid keys and oversized values are typed errors, sent nowhere")
    func badInput() async throws {
        try await onHub {
            try withMemcached { servers in
                let client = try MemcachedClient(servers: [servers[0].server])
                defer { client.close() }
                try checkThrows(.invalidKey) { try client.get("") }
                try checkThrows(.invalidKey) { try client.get("two words") }
                try checkThrows(.invalidKey) { try client.set("line\nbreak", "x") }
                try checkThrows(.invalidKey) { try client.get(String(repeating: "k", count: 251)) }
                try checkThrows(.invalidKey) { try client.getMany(["ok", "not ok"]) }
                try client.set(String(repeating: "k", count: 250), "longest key")
                try check(try client.getString(String(repeating: "k", count: 250)) == "longest key", "a 250-byte key works")
                try client.set("ключ", "unicode key")
                try check(try client.getString("ключ") == "unicode key", "a UTF-8 key works")
                try checkThrows(.invalidArgument) { try client.set("big", [UInt8](repeating: 1, count: 1024 * 1024 + 1)) }
                try checkThrows(.invalidArgument) { try MemcachedClient(servers: []) }
                try checkThrows(.invalidArgument) { try MemcachedServer(parsing: "host:notaport") }
                try checkThrows(.invalidArgument) { try MemcachedServer(parsing: "host:70000") }
                try check(try MemcachedServer(parsing: "[::1]:11300").description == "[::1]:11300", "IPv6 form")
                try check(try MemcachedServer(parsing: "cache").port == 11211, "default port")
                try check(client.openConnectionCount(to: servers[0].server) == 1, "bad input opened no further connection")
            }
        }
    }

    @Test("a value the server refuses is SERVER_ERROR with its message, and the client goes on")
    func serverError() async throws {
        try await onHub {
            try withMemcached { servers in
                // memcached's item limit is 1 MiB; a client allowed more sends it, the server says no.
                let client = try MemcachedClient(servers: [servers[0].server],
                                                 configuration: .init(maximumValueSize: 4 * 1024 * 1024))
                defer { client.close() }
                let error = try checkThrows(.serverError) { try client.set("huge", [UInt8](repeating: 7, count: 2 * 1024 * 1024)) }
                try check(error.message.contains("too large"), "the server's own message: \(error)")
                try client.set("small", "fine")
                try check(try client.getString("small") == "fine", "the client recovers")
            }
        }
    }
}
