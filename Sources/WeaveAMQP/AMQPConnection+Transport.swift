import WeaveCore
import WeaveIO
import WeaveTLS

// The transport under a connection: TCP, or TLS over TCP for `amqps`. Connecting and
// recovering both come through here, so a recovered connection is as secure as the first.
extension AMQPConnection {
    /// The TLS context for `configuration`, nil without TLS. Made once per connection:
    /// reading the CA file and the trust store is not repeated on every reconnection.
    static func makeTLSContext(_ configuration: AMQPConfiguration) throws -> TLSContext? {
        guard let tls = configuration.tls else { return nil }
        precondition(tls.role == .client, "AMQPConfiguration.tls needs a client configuration (TLSConfiguration.client())")
        return try TLSContext(configuration: tls, logger: Hub.current?.logger)
    }

    /// Connects TCP to the broker and, with a context, runs the TLS client handshake over it,
    /// sending the configuration's host as SNI (and checking the certificate against it)
    /// unless the TLS configuration names another.
    static func connectTransport(_ configuration: AMQPConfiguration, tlsContext: TLSContext?) throws -> any ByteStream {
        let tcp = try TCPConnection.connect(host: configuration.host, port: configuration.port, timeout: configuration.connectTimeout)
        guard let tlsContext else { return tcp }
        // TLSConnection.connect(over:) closes the TCP connection when the handshake fails.
        return try TLSConnection.connect(over: tcp, context: tlsContext,
                                         serverName: tlsContext.configuration.serverName ?? configuration.host)
    }

    /// A new transport for recovery, with the context made at connect (or now, for a
    /// connection opened over a stream of the caller's).
    func reconnectTransport() throws -> any ByteStream {
        if tlsContext == nil { tlsContext = try Self.makeTLSContext(configuration) }
        return try Self.connectTransport(configuration, tlsContext: tlsContext)
    }
}
