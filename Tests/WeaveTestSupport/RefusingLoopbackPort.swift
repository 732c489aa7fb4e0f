import Glibc

/// A TCP port on 127.0.0.1 that refuses connections until ``close()``: a socket binds it and
/// never listens. A port merely freed (a listener bound, then closed) can be taken at once by
/// another test's server, and the connection meant to be refused then reaches that server.
public final class RefusingLoopbackPort {
    public let port: Int
    private var fd: Int32

    /// - Throws: ``FreePortError`` when no socket can be bound.
    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FreePortError(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            Glibc.close(fd)
            throw FreePortError(description: "bind 127.0.0.1:0: errno \(error)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Gives the port up.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    deinit { close() }
}
