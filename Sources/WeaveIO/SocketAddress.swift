import CLibUV
import Glibc
import WeaveCore

/// An IPv4 or IPv6 address and port, as libuv and the kernel take them.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Raw `sockaddr_in` / `sockaddr_in6` bytes.
    let storage: sockaddr_storage

    init(_ storage: sockaddr_storage) {
        self.storage = storage
    }

    /// Parses a numeric IPv4 or IPv6 address (no name lookup; see ``resolve(host:port:timeout:)``).
    public init(ip: String, port: Int) throws {
        guard (0...65535).contains(port) else {
            throw IOError(.invalidAddress, "port \(port) is out of range")
        }
        var storage = sockaddr_storage()
        let status: Int32 = withUnsafeMutablePointer(to: &storage) { pointer in
            if ip.contains(":") {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(ip, Int32(port), $0) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(ip, Int32(port), $0) }
        }
        guard status == 0 else {
            throw IOError(.invalidAddress, "'\(ip)' is not a numeric IPv4 or IPv6 address")
        }
        self.storage = storage
    }

    public var isIPv6: Bool { Int32(storage.ss_family) == AF_INET6 }

    /// The port.
    public var port: Int {
        withUnsafePointer(to: storage) { pointer in
            if isIPv6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// The numeric address without the port.
    public var ip: String {
        var buffer = [CChar](repeating: 0, count: 64)
        withUnsafePointer(to: storage) { pointer in
            if isIPv6 {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { _ = uv_ip6_name($0, &buffer, buffer.count) }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { _ = uv_ip4_name($0, &buffer, buffer.count) }
            }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `127.0.0.1:8080` or `[::1]:8080`.
    public var description: String { isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) throws -> R) rethrows -> R {
        try withUnsafePointer(to: storage) { try $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.description == rhs.description
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(description)
    }
}
