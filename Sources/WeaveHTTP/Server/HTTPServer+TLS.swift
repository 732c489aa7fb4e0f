import WeaveCore
import WeaveIO
import WeaveTLS

extension HTTPServer {
    /// Serves HTTPS on an accepted `transport`: runs a server TLS handshake with `context`,
    /// then ``serve(connection:)`` over the TLS stream. A client whose handshake fails is
    /// logged at `debug` and dropped (the transport closed); the handler never sees it.
    ///
    /// Blocks the calling coroutine (on a hub) for the connection's life; the handshake is
    /// bounded by the context's ``TLSConfiguration/handshakeTimeout``. Only
    /// `CancellationError` is thrown.
    public func serve<T: ByteStream>(tlsOver transport: T, context: TLSContext) throws {
        precondition(context.configuration.role == .server, "HTTPServer.serve(tlsOver:context:) needs a server TLS context")
        let connection: TLSConnection<T>
        do {
            connection = try TLSConnection.accept(over: transport, context: context)
        } catch let error as CancellationError {
            throw error
        } catch {
            logger.debug("TLS handshake failed", metadata: ["error": "\(error)"])
            return
        }
        try serve(connection: connection)
    }

    /// A ``StreamServer`` on the current hub that serves this HTTP server over TLS with
    /// `context` (a server context), with ``Configuration/maxConnections``; start it with
    /// `serveForever()` or `start()`.
    ///
    /// Throws `UVError` for a failed bind.
    public func makeStreamServer(
        host: String = "127.0.0.1", port: Int, backlog: Int? = nil, reusePort: Bool = false, tls context: TLSContext
    ) throws -> StreamServer {
        try StreamServer(host: host, port: port, backlog: backlog, reusePort: reusePort,
                         maxConnections: configuration.maxConnections) { [self] connection in
            try serve(tlsOver: connection, context: context)
        }
    }
}
