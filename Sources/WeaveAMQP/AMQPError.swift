/// An AMQP operation failed for a reason of the client's, the broker's or the network's.
///
/// Match ``code``. When the broker closed the channel or the connection, ``replyCode`` and
/// ``replyText`` carry its reason (`406 PRECONDITION_FAILED - inequivalent arg 'durable'…`),
/// and ``classID``/``methodID`` the method it refused. Timeouts and cancellation are not
/// `AMQPError`s: they are Weave's `TimeoutError` and `CancellationError`.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case invalidURL, accessRefused, handshakeFailed, connectionClosed, connectionLost, heartbeatTimeout
            case channelClosed, protocolError, nacked, consumerCancelled, closedByClient, channelLimit, returned
        }
        let storage: Storage

        /// The `amqp://` URL could not be parsed (scheme, port, percent-encoding).
        public static let invalidURL = Code(storage: .invalidURL)
        /// The broker refused the credentials or the virtual host (reply code 403, `ACCESS_REFUSED`).
        public static let accessRefused = Code(storage: .accessRefused)
        /// The broker ended the handshake in another way (an unsupported protocol version, a
        /// mechanism it does not offer).
        public static let handshakeFailed = Code(storage: .handshakeFailed)
        /// The broker closed the connection with `connection.close`: ``AMQPError/replyCode``
        /// and ``AMQPError/replyText`` say why (320 `CONNECTION_FORCED` on shutdown).
        public static let connectionClosed = Code(storage: .connectionClosed)
        /// The transport failed: a reset, the broker going away without `connection.close`.
        public static let connectionLost = Code(storage: .connectionLost)
        /// Nothing arrived from the broker for two heartbeat intervals: the peer is taken for dead.
        public static let heartbeatTimeout = Code(storage: .heartbeatTimeout)
        /// The broker closed the channel with `channel.close` (404 `NOT_FOUND`, 406
        /// `PRECONDITION_FAILED`…): the channel is gone, the connection stays usable.
        public static let channelClosed = Code(storage: .channelClosed)
        /// The broker sent something that is not valid AMQP 0-9-1, or a method out of turn.
        public static let protocolError = Code(storage: .protocolError)
        /// The broker negatively acknowledged a published message (`basic.nack`): it was not
        /// taken responsibility for.
        public static let nacked = Code(storage: .nacked)
        /// The broker cancelled the consumer (its queue was deleted, or it failed over).
        public static let consumerCancelled = Code(storage: .consumerCancelled)
        /// The channel or connection was closed on this side.
        public static let closedByClient = Code(storage: .closedByClient)
        /// Every channel number the broker allows (`channel-max`) is in use.
        public static let channelLimit = Code(storage: .channelLimit)
        /// A message published with `mandatory` could not be routed to any queue (`basic.return`).
        public static let returned = Code(storage: .returned)

        public var description: String { "\(storage)" }
    }

    /// The reply codes of AMQP 0-9-1 that brokers send most, for matching ``AMQPError/replyCode``.
    public enum ReplyCode {
        /// 320: the broker (or an operator) closed the connection.
        public static let connectionForced: UInt16 = 320
        /// 403: wrong credentials, or no permission on the virtual host or resource.
        public static let accessRefused: UInt16 = 403
        /// 404: no such exchange or queue.
        public static let notFound: UInt16 = 404
        /// 405: an exclusive queue of another connection.
        public static let resourceLocked: UInt16 = 405
        /// 406: a redeclaration with different properties, an unknown delivery tag…
        public static let preconditionFailed: UInt16 = 406
    }

    /// What kind of failure.
    public let code: Code
    /// What failed and where (which broker, channel, queue or method).
    public let message: String
    /// The broker's reply code for ``Code/connectionClosed``, ``Code/channelClosed``,
    /// ``Code/accessRefused`` and ``Code/returned``.
    public let replyCode: UInt16?
    /// The broker's reply text with ``replyCode``.
    public let replyText: String?
    /// The class of the method the broker refused (50 for `queue`), 0 when none.
    public let classID: UInt16
    /// The refused method within ``classID`` (10 for `queue.declare`).
    public let methodID: UInt16
    /// The failure underneath (a `UVError` for a reset, a frame decoding error), if any.
    public let underlying: (any Error)?

    init(
        _ code: Code, _ message: String, replyCode: UInt16? = nil, replyText: String? = nil,
        classID: UInt16 = 0, methodID: UInt16 = 0, underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.classID = classID
        self.methodID = methodID
        self.underlying = underlying
    }

    public var description: String {
        var text = message
        if let replyCode { text += " (\(replyCode) \(replyText ?? ""))" }
        if let underlying { text += ": \(underlying)" }
        return text
    }
}
