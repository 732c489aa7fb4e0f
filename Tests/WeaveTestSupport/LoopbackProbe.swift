import Glibc

/// Connects to 127.0.0.1:`port` with a plain blocking socket (off any hub), sends `request` and
/// returns the first bytes of the answer (at most `limit`), or nil when the connection, the
/// send or the read fails or times out after `timeoutSeconds`. Fixtures use it to ask whether
/// the server they started answers yet.
public func loopbackExchange(port: Int, request: [UInt8], limit: Int = 16, timeoutSeconds: Int = 2) -> [UInt8]? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0, send(fd, request, request.count, 0) == request.count else { return nil }
    var answer = [UInt8](repeating: 0, count: limit)
    let count = recv(fd, &answer, limit, 0)
    return count > 0 ? Array(answer.prefix(count)) : nil
}
