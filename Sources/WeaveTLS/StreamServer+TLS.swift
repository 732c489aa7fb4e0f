import WeaveCore
import WeaveIO

extension StreamServer {
    /// A TCP server whose handler gets each connection after a server TLS handshake with
    /// `context` (see ``StreamServer/init(host:port:backlog:reusePort:maxConnections:handler:)``
    /// for the rest).
    ///
    /// The handshake runs in the connection's own coroutine, bounded by the context's
    /// ``TLSConfiguration/handshakeTimeout``; a client whose handshake fails is logged at
    /// debug level through the hub's logger and dropped, the handler never sees it. When the
    /// handler returns or throws, the connection sends `close_notify` and closes.
    ///
    /// - Throws: `UVError` for a failed bind, `WeaveError` for a `maxConnections` below 1.
    public convenience init(
        host: String = "127.0.0.1", port: Int, backlog: Int? = nil, reusePort: Bool = false,
        maxConnections: Int? = nil, tls context: TLSContext,
        handler: @escaping (TLSConnection<TCPConnection>) throws -> Void
    ) throws {
        precondition(context.configuration.role == .server, "StreamServer(tls:) needs a server context")
        try self.init(host: host, port: port, backlog: backlog, reusePort: reusePort, maxConnections: maxConnections) { tcp in
            let connection: TLSConnection<TCPConnection>
            do {
                connection = try TLSConnection.accept(over: tcp, context: context)
            } catch let error as TLSError {
                Hub.current?.logger.debug("TLS handshake failed", metadata: ["connection": "\(tcp)", "error": "\(error)"])
                return
            }
            defer { connection.close() }
            try handler(connection)
        }
    }
}
