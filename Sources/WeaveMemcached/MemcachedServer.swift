/// The address of one memcached server.
public struct MemcachedServer: Hashable, Sendable, CustomStringConvertible {
    /// A host name or a numeric IPv4 or IPv6 address.
    public let host: String
    /// The TCP port (memcached's default is 11211).
    public let port: Int

    /// A server at `host:port`.
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/invalidArgument`` for an
    ///   empty host or a port outside 1...65535.
    public init(host: String, port: Int = 11211) throws {
        guard !host.isEmpty else { throw MemcachedError(.invalidArgument, "empty host name") }
        guard (1...65535).contains(port) else {
            throw MemcachedError(.invalidArgument, "port \(port) of \(host) is out of range (1...65535)")
        }
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `host` (port 11211) or `[ipv6]:port`.
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/invalidArgument`` for text
    ///   that is not an address.
    public init(parsing text: String) throws {
        var host = Substring(text)
        var port = 11211
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                throw MemcachedError(.invalidArgument, "'\(text)' has no closing bracket")
            }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else {
                    throw MemcachedError(.invalidArgument, "'\(text)' is not [address]:port")
                }
                port = number
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard host.firstIndex(of: ":") == colon, let number = Int(host[host.index(after: colon)...]) else {
                throw MemcachedError(.invalidArgument, "'\(text)' is not host:port")
            }
            port = number
            host = host[..<colon]
        }
        try self.init(host: String(host), port: port)
    }

    /// `host:port`, or `[address]:port` for IPv6: the form ``init(parsing:)`` reads, and
    /// the name the hash ring places.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
