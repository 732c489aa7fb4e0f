import Testing
import WeaveMemcached

@Suite("MemcachedHashRing")
struct MemcachedHashRingTests {
    let keys = (0..<20_000).map { "user:\($0):profile" }

    func servers(_ count: Int) throws -> [MemcachedServer] {
        try (0..<count).map { try MemcachedServer(host: "10.0.0.\($0 + 1)", port: 11211) }
    }

    @Test("keys spread roughly evenly over the servers")
    func evenSpread() throws {
        let ring = try MemcachedHashRing(servers: servers(4))
        var counts = [Int](repeating: 0, count: 4)
        for key in keys { counts[ring.serverIndex(for: key)] += 1 }
        // An even split is 5,000 each; 160 virtual nodes keep each well within ±30 %.
        for count in counts { #expect((3_500...6_500).contains(count), "counts \(counts)") }
    }

    @Test("adding a server moves only the keys it takes over, about 1/(n+1) of them")
    func minimalMovement() throws {
        let before = try MemcachedHashRing(servers: servers(3))
        let after = try MemcachedHashRing(servers: servers(4))
        let added = try servers(4)[3]
        var moved = 0
        for key in keys where before.server(for: key) != after.server(for: key) {
            moved += 1
            #expect(after.server(for: key) == added, "\(key) moved between old servers")
        }
        // 1/4 of 20,000 is 5,000.
        #expect((3_500...6_500).contains(moved), "moved \(moved)")
    }

    @Test("removing a server moves only its own keys")
    func removal() throws {
        let all = try servers(3)
        let before = try MemcachedHashRing(servers: all)
        let after = try MemcachedHashRing(servers: [all[0], all[2]])
        for key in keys where before.server(for: key) != all[1] {
            #expect(after.server(for: key) == before.server(for: key))
        }
    }

    @Test("placement depends on the servers, not on their order")
    func orderIndependent() throws {
        let all = try servers(3)
        let one = try MemcachedHashRing(servers: all)
        let other = try MemcachedHashRing(servers: all.reversed())
        for key in keys.prefix(2_000) { #expect(one.server(for: key) == other.server(for: key)) }
    }

    @Test("the hash is FNV-1a 64 with the fmix64 finaliser (fixed values)")
    func fixedHash() {
        // FNV-1a of "" is its offset basis; fmix64 of it, and of "a", pinned so that a
        // change of hash (which would move every key in a deployed cluster) fails here.
        #expect(MemcachedHashRing.hash("".utf8) == fmix(0xcbf2_9ce4_8422_2325))
        #expect(MemcachedHashRing.hash("a".utf8) == fmix(0xaf63_dc4c_8601_ec8c))
    }

    private func fmix(_ value: UInt64) -> UInt64 {
        var hash = value
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }

    @Test("no servers, a duplicate, or zero virtual nodes are invalid arguments")
    func invalid() throws {
        let all = try servers(2)
        #expect(throws: MemcachedError.self) { try MemcachedHashRing(servers: []) }
        #expect(throws: MemcachedError.self) { try MemcachedHashRing(servers: [all[0], all[0]]) }
        #expect(throws: MemcachedError.self) { try MemcachedHashRing(servers: all, virtualNodes: 0) }
    }
}
