/// A Redis command or connection failed for a reason of the client's or the server's.
///
/// Match ``code``; ``message`` says what failed, on which server and for which command.
/// Timeouts and cancellation are not `RedisError`s: they are Weave's `TimeoutError` and
/// `CancellationError`, and they discard the connection they interrupted.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case server, protocolError, connectionClosed, connectFailed, poolClosed, unsupported
        }
        let storage: Storage

        /// The server answered with an error (`-ERR`, `-WRONGTYPE`...): ``RedisError/serverMessage``
        /// has its text. The connection stays usable.
        public static let server = Code(storage: .server)
        /// The server sent bytes that are not valid RESP, or a reply nobody asked for. The
        /// connection is closed.
        public static let protocolError = Code(storage: .protocolError)
        /// The connection ended (the server closed it or went away, a reset, or it was closed
        /// on this side) before the reply arrived. The command may or may not have run.
        public static let connectionClosed = Code(storage: .connectionClosed)
        /// The handshake on connect (`HELLO`, `AUTH`, `SELECT`) was refused; the underlying
        /// error says why.
        public static let connectFailed = Code(storage: .connectFailed)
        /// The connection pool was closed.
        public static let poolClosed = Code(storage: .poolClosed)
        /// A command this API does not run on that connection (`SUBSCRIBE` outside
        /// ``RedisSubscription``).
        public static let unsupported = Code(storage: .unsupported)

        public var description: String { "\(storage)" }
    }

    /// What kind of failure.
    public let code: Code
    /// What failed, on which server and for which command.
    public let message: String
    /// The server's error text for ``Code/server`` (`WRONGTYPE Operation against a key...`).
    public let serverMessage: String?
    /// The failure underneath (a `UVError` for a reset, the server's error for a refused
    /// handshake), if any.
    public let underlying: (any Error)?

    init(_ code: Code, _ message: String, serverMessage: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.serverMessage = serverMessage
        self.underlying = underlying
    }

    /// The first word of a server error (`ERR`, `WRONGTYPE`, `NOSCRIPT`...), for matching.
    public var serverErrorPrefix: Substring? {
        serverMessage.map { $0.prefix { $0 != " " } }
    }

    public var description: String {
        if let underlying { return "\(message): \(underlying)" }
        return message
    }
}
