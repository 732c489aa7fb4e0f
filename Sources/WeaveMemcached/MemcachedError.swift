/// A memcached command that did not do what was asked: the server's answer (not stored, a
/// CAS conflict, a missing key, an error line), a reply that breaks the protocol, or a
/// connection that failed.
///
/// Match on ``code``; the ``description`` names the server and the command. Timeouts and
/// cancellation are not wrapped: they arrive as Weave's `TimeoutError` and `CancellationError`.
public struct MemcachedError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for matching.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case notStored, exists, notFound, serverError, clientError, protocolError
            case connectionFailed, invalidKey, invalidArgument, closed
        }

        let storage: Storage

        /// The server did not store the value (`NS`): `add` of a key that exists, `replace`
        /// of one that does not.
        public static let notStored = Code(storage: .notStored)
        /// A compare-and-swap lost (`EX`): the item changed since its CAS token was read.
        public static let exists = Code(storage: .exists)
        /// The key is not there (`NF`): increment, decrement or a CAS store of a missing key.
        public static let notFound = Code(storage: .notFound)
        /// The server answered `SERVER_ERROR` (out of memory, a value too large...); see ``MemcachedError/message``.
        public static let serverError = Code(storage: .serverError)
        /// The server refused the command (`ERROR`, `CLIENT_ERROR`: incrementing a value
        /// that is not a number, for instance).
        public static let clientError = Code(storage: .clientError)
        /// The reply broke the protocol (an unknown status, a bad length, missing `\r\n`).
        /// The connection it came on is closed.
        public static let protocolError = Code(storage: .protocolError)
        /// Connecting, sending or receiving failed (refused, reset, the server closed the
        /// connection); ``MemcachedError/underlying`` holds Weave's error.
        public static let connectionFailed = Code(storage: .connectionFailed)
        /// A key the text protocol cannot carry: empty, longer than 250 bytes, or with a
        /// space or control character.
        public static let invalidKey = Code(storage: .invalidKey)
        /// An argument out of range (no servers, a malformed `host:port`, a value too large).
        public static let invalidArgument = Code(storage: .invalidArgument)
        /// The client was closed.
        public static let closed = Code(storage: .closed)

        /// The code's name (`notStored`, `exists`, ...).
        public var description: String { "\(storage)" }
    }

    /// What went wrong.
    public let code: Code
    /// A sentence saying what failed, on which server and command (the server's own text
    /// for ``Code/serverError`` and ``Code/clientError``).
    public let message: String
    /// The server the command went to, when there was one.
    public let server: MemcachedServer?
    /// The error behind this one (a `UVError` or `IOError` for ``Code/connectionFailed``).
    public let underlying: (any Error)?

    init(_ code: Code, _ message: String, server: MemcachedServer? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.server = server
        self.underlying = underlying
    }

    /// `memcached <server>: <message>`, with the underlying error in parentheses.
    public var description: String {
        var text = server.map { "memcached \($0): \(message)" } ?? "memcached: \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }
}
