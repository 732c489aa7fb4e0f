/// Consistent hashing of keys onto servers: each server owns ``virtualNodes`` points on a
/// 64-bit ring, and a key belongs to the first point at or after its own hash (wrapping).
///
/// Adding a server moves only the keys that now fall before one of its points (about
/// 1/(n+1) of them, all to the new server); removing one moves only its own keys. The hash
/// is ``hash(_:)``: 64-bit FNV-1a followed by MurmurHash3's 64-bit finaliser (FNV alone
/// spreads short, similar keys poorly). A server's points are the hashes of
/// `"host:port#0"`, `"host:port#1"`, ... (its ``MemcachedServer/description``), so every
/// process that lists the same servers places every key on the same server, whatever the
/// order of the list. The ring is fixed once made; make a new one to change the servers.
public struct MemcachedHashRing: Sendable {
    /// The servers, in the order given.
    public let servers: [MemcachedServer]
    /// Points per server.
    public let virtualNodes: Int
    /// The points, sorted by hash; `owners[i]` is the index in `servers` of the server
    /// owning `points[i]`.
    private let points: [UInt64]
    private let owners: [Int32]

    /// Places `servers` on the ring, `virtualNodes` points each (160 by default: within a
    /// few percent of an even split for a handful of servers).
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/invalidArgument`` for no
    ///   servers, the same server twice, or fewer than one virtual node.
    public init(servers: [MemcachedServer], virtualNodes: Int = 160) throws {
        guard !servers.isEmpty else { throw MemcachedError(.invalidArgument, "a hash ring needs at least one server") }
        guard virtualNodes >= 1 else {
            throw MemcachedError(.invalidArgument, "virtualNodes must be at least 1, not \(virtualNodes)")
        }
        guard Set(servers).count == servers.count else {
            throw MemcachedError(.invalidArgument, "a server is listed twice in \(servers)")
        }
        var placed: [(hash: UInt64, name: String, owner: Int32)] = []
        placed.reserveCapacity(servers.count * virtualNodes)
        for (index, server) in servers.enumerated() {
            let name = server.description
            for node in 0..<virtualNodes {
                placed.append((Self.hash("\(name)#\(node)".utf8), name, Int32(index)))
            }
        }
        // Ties (vanishingly rare) are broken by name, so the list's order never matters.
        placed.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.name < $1.name }
        self.servers = servers
        self.virtualNodes = virtualNodes
        self.points = placed.map(\.hash)
        self.owners = placed.map(\.owner)
    }

    /// The server that owns `key`.
    public func server(for key: String) -> MemcachedServer {
        servers[serverIndex(for: key)]
    }

    /// The index in ``servers`` of the server that owns `key`.
    public func serverIndex(for key: String) -> Int {
        if servers.count == 1 { return 0 }
        var key = key
        return key.withUTF8 { serverIndex(forHash: Self.hash($0)) }
    }

    func serverIndex(forHash hash: UInt64) -> Int {
        // The first point at or after `hash`; past the last point, the ring wraps to the first.
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return Int(owners[low == points.count ? 0 : low])
    }

    /// The ring's hash of `bytes`: 64-bit FNV-1a, then MurmurHash3's `fmix64` finaliser.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
