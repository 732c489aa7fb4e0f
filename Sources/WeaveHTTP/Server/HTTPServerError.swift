/// A misuse of the request or response by a handler, or a request body the server refused;
/// thrown by ``HTTPServerRequest`` and ``HTTPResponseWriter``.
public struct HTTPServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for matching.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case bodyTooLarge, unexpectedEnd, headAlreadySent, bodyLengthExceeded, bodyShorterThanDeclared
            case bodyNotAllowed, informationalStatus, requestFinished
        }

        let storage: Storage

        /// The request body is larger than the limit (the server's ``HTTPServer/Configuration/maxBodyBytes``
        /// or the `maxBytes` of ``HTTPServerRequest/readAll(maxBytes:)``).
        public static let bodyTooLarge = Code(storage: .bodyTooLarge)
        /// The client closed the connection before the whole request body arrived.
        public static let unexpectedEnd = Code(storage: .unexpectedEnd)
        /// ``HTTPResponseWriter/writeHead(_:contentLength:)`` was called twice.
        public static let headAlreadySent = Code(storage: .headAlreadySent)
        /// More body bytes were written than the `contentLength` given with the head.
        public static let bodyLengthExceeded = Code(storage: .bodyLengthExceeded)
        /// ``HTTPResponseWriter/finish()`` came before `contentLength` bytes were written (the
        /// connection closes, so the client sees the body cut short).
        public static let bodyShorterThanDeclared = Code(storage: .bodyShorterThanDeclared)
        /// Body bytes were written for a status that has none (204, 304).
        public static let bodyNotAllowed = Code(storage: .bodyNotAllowed)
        /// A 1xx status was given to `writeHead` (the server sends `100 Continue` itself).
        public static let informationalStatus = Code(storage: .informationalStatus)
        /// The request or writer was used after its exchange ended (after the handler returned).
        public static let requestFinished = Code(storage: .requestFinished)

        public var description: String { "\(storage)" }
    }

    /// What went wrong.
    public let code: Code
    /// A sentence saying what failed.
    public let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
