import WeaveCore

/// The connections of an ``HTTPClient`` to one (scheme, host, port): idle ones to reuse,
/// and a semaphore whose permits are the connections that may be in use at once.
///
/// A connection is opened only when no idle one is left, so busy plus idle never exceeds
/// the limit either.
final class HTTPClientPool {
    struct Key: Hashable, Sendable, CustomStringConvertible {
        var isHTTPS: Bool
        var host: String
        var port: Int
        var description: String { "\(isHTTPS ? "https" : "http")://\(host):\(port)" }
    }

    let key: Key
    let permits: Semaphore
    /// Most recently used last: reused first, so that the rest can time out.
    var idle: [HTTPClientConnection] = []
    /// Connections open now, idle or busy.
    var openCount = 0

    init(key: Key, limit: Int) {
        self.key = key
        permits = Semaphore(value: limit, label: "HTTPClient pool \(key)")
    }

    /// Takes back a busy connection: kept idle if `reusable`, else closed. Gives back its permit.
    func release(_ connection: HTTPClientConnection, reusable: Bool) {
        if reusable && !connection.stream.isClosed {
            connection.idleSince = .now
            idle.append(connection)
        } else {
            connection.stream.close()
            openCount -= 1
        }
        try? permits.release()
    }

    /// Closes every idle connection.
    func closeIdle() {
        for connection in idle { connection.stream.close() }
        openCount -= idle.count
        idle.removeAll()
    }
}
