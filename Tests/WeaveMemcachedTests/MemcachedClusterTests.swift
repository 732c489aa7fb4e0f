import Testing
import Weave
import WeaveMemcached
import WeaveTestSupport

@Suite("memcached over two real servers")
struct MemcachedClusterTests {
    @Test("each key is stored on the server the ring names, and both servers get keys")
    func keysWhereTheRingSays() async throws {
        try await onHub {
            try withMemcached(2) { processes in
                let servers = processes.map(\.server)
                let client = try MemcachedClient(servers: servers)
                defer { client.close() }
                let direct = try servers.map { try MemcachedClient(servers: [$0]) }
                defer { for one in direct { one.close() } }
                let keys = (0..<200).map { "spread-\($0)" }
                for key in keys { try client.set(key, key) }
                var perServer = [0, 0]
                for key in keys {
                    let owner = client.ring.serverIndex(for: key)
                    perServer[owner] += 1
                    try check(try direct[owner].getString(key) == key, "\(key) missing on its server \(servers[owner])")
                    try check(try direct[1 - owner].get(key) == nil, "\(key) also on the other server")
                    try check(try client.getString(key) == key, "\(key) read back through the ring")
                }
                try check(perServer[0] > 40 && perServer[1] > 40, "both servers hold keys: \(perServer)")
                let many = try client.getMany(keys)
                try check(many.count == keys.count && many["spread-7"] == Array("spread-7".utf8),
                          "getMany gathers from both servers: \(many.count)")
                try check(client.server(for: "spread-7") == servers[client.ring.serverIndex(for: "spread-7")], "server(for:)")
            }
        }
    }

    @Test("a key's CAS and counter commands go to its own server")
    func casAcrossServers() async throws {
        try await onHub {
            try withMemcached(2) { processes in
                let client = try MemcachedClient(servers: processes.map(\.server))
                defer { client.close() }
                for index in 0..<20 {
                    let key = "cas-\(index)"
                    try client.set(key, "0")
                    let item = try client.getItem(key)!
                    try client.set(key, "1", cas: item.cas)
                    try checkThrows(.exists) { try client.set(key, "2", cas: item.cas) }
                    try check(try client.increment("n-\(index)", initial: 0) == 0, "counter created")
                    try check(try client.increment("n-\(index)") == 1, "counter incremented")
                }
            }
        }
    }
}
