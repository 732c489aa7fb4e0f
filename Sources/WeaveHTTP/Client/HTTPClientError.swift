/// A request made with ``HTTPClient`` failed, with the cause.
///
/// Match on ``code`` (`error.code == .tooManyRedirects`); the codes are an open set. The
/// error behind it (a `UVError` for a refused connection, a `TLSError` for a failed
/// handshake, an ``HTTPParseError`` for a malformed response) is ``underlyingError``.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case invalidURL, unsupportedScheme, tooManyRedirects, poolTimeout, connectFailed, tlsFailed
            case timedOut, responseMalformed, connectionClosed, bodyTooLarge, requestBodyLengthMismatch
        }

        let storage: Storage

        /// The URL (or a redirect's `Location`) is not an absolute `http`/`https` URL with a host.
        public static let invalidURL = Code(storage: .invalidURL)
        /// The URL's scheme is neither `http` nor `https`.
        public static let unsupportedScheme = Code(storage: .unsupportedScheme)
        /// More redirects than ``HTTPClient/Configuration/maxRedirects``.
        public static let tooManyRedirects = Code(storage: .tooManyRedirects)
        /// No connection to the host came free within ``HTTPClient/Configuration/poolWaitTimeout``.
        public static let poolTimeout = Code(storage: .poolTimeout)
        /// Resolving the host or connecting to it failed (refused, unreachable, timed out).
        public static let connectFailed = Code(storage: .connectFailed)
        /// The TLS handshake failed; ``HTTPClientError/underlyingError`` is the `TLSError`
        /// (unknown CA, hostname mismatch, expired certificate...).
        public static let tlsFailed = Code(storage: .tlsFailed)
        /// A read took longer than ``HTTPClient/Configuration/readTimeout``, or the request
        /// ran past its total timeout.
        public static let timedOut = Code(storage: .timedOut)
        /// The response broke HTTP/1.1's rules (``HTTPClientError/underlyingError`` is the
        /// ``HTTPParseError``).
        public static let responseMalformed = Code(storage: .responseMalformed)
        /// The server closed the connection before the whole response arrived.
        public static let connectionClosed = Code(storage: .connectionClosed)
        /// The response body is longer than the `maxBytes` given to ``HTTPClientResponse/readAll(maxBytes:)``.
        public static let bodyTooLarge = Code(storage: .bodyTooLarge)
        /// A streamed request body wrote more or fewer bytes than its declared length.
        public static let requestBodyLengthMismatch = Code(storage: .requestBodyLengthMismatch)

        public var description: String { "\(storage)" }
    }

    /// What failed.
    public let code: Code
    /// What failed and where, for a log.
    public let message: String
    /// The error behind this one, if any.
    public let underlyingError: (any Error & Sendable)?

    package init(_ code: Code, _ message: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    public var description: String {
        guard let underlyingError else { return message }
        return "\(message): \(underlyingError)"
    }
}
