import WeaveCore
import WeaveIO
import WeaveTLS

/// The stream a Redis connection talks over: TCP, or TLS over TCP. An enum rather than
/// `any ByteStream` so each kind of connection runs loops specialised for its stream.
enum RedisTransport {
    case plain(TCPConnection)
    case tls(TLSConnection<TCPConnection>)

    /// Connects to the configured server and, with TLS (`context`, else one made from
    /// ``RedisConfiguration/tls``), runs the client handshake within `deadline`.
    ///
    /// - Throws: `UVError` for TCP; `TLSError` for the handshake or the TLS
    ///   configuration; `TimeoutError`; `CancellationError`. Nothing is left open.
    static func open(
        _ configuration: RedisConfiguration, context: TLSContext?, deadline: ContinuousClock.Instant?
    ) throws -> RedisTransport {
        let context = try context ?? configuration.tls.map { try TLSContext(configuration: $0, logger: Hub.current?.logger) }
        let tcp = try TCPConnection.connect(host: configuration.host, port: configuration.port, timeout: configuration.connectTimeout)
        guard let context else { return .plain(tcp) }
        let serverName = context.configuration.serverName ?? configuration.host
        // The handshake is bounded by the context's handshake timeout; the connect timeout
        // bounds it too when it is sooner.
        guard let deadline else {
            return .tls(try TLSConnection.connect(over: tcp, context: context, serverName: serverName))
        }
        return .tls(try withTimeout(max(.zero, deadline - .now), operation: "TLS handshake with Redis \(configuration.host):\(configuration.port)") {
            try TLSConnection.connect(over: tcp, context: context, serverName: serverName)
        })
    }

    /// The stream, for closing.
    var stream: any ByteStream {
        switch self {
        case .plain(let tcp): return tcp
        case .tls(let tls): return tls
        }
    }
}
