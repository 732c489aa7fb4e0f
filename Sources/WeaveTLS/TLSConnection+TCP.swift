import WeaveCore
import WeaveIO

extension TLSConnection where Transport == TCPConnection {
    /// Connects to `host:port` over TCP and runs a client handshake, checking the certificate
    /// against `host` (or `serverName`).
    ///
    /// `timeout` bounds resolving and connecting; the handshake is bounded by the context's
    /// ``TLSConfiguration/handshakeTimeout``. Blocks the calling coroutine only.
    ///
    /// - Throws: the TCP connection's errors (`UVError` `ECONNREFUSED`, `TimeoutError`),
    ///   then those of ``connect(over:context:serverName:)``; `CancellationError`.
    public static func connect(
        host: String, port: Int, context: TLSContext, serverName: String? = nil, timeout: Duration? = nil
    ) throws -> TLSConnection<TCPConnection> {
        let tcp = try TCPConnection.connect(host: host, port: port, timeout: timeout)
        return try connect(over: tcp, context: context, serverName: serverName ?? context.configuration.serverName ?? host)
    }

    /// Connects as ``connect(host:port:context:serverName:timeout:)`` with a context made
    /// from `configuration` for this one connection. Making a context parses certificates
    /// and loads the trust store: for many connections, make one ``TLSContext`` and share it.
    public static func connect(
        host: String, port: Int, configuration: TLSConfiguration, timeout: Duration? = nil
    ) throws -> TLSConnection<TCPConnection> {
        try connect(host: host, port: port, context: TLSContext(configuration: configuration, logger: Hub.current?.logger),
                    timeout: timeout)
    }
}
