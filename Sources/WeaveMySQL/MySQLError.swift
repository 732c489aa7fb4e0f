/// A MySQL or MariaDB operation failed: the server refused it, the client library failed,
/// or the connection was lost or already closed.
///
/// Carries the server's (or client library's) error ``number`` such as 1045 (access
/// denied) or 1064 (syntax error), its five-character ``sqlState`` such as `28000` or
/// `42000`, and its ``message``. Timeouts and cancellation are not `MySQLError`s: they
/// surface as Weave's `TimeoutError` and `CancellationError`.
public struct MySQLError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; match it against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable { case server, client, connectionLost, closed, decoding, tls }
        let storage: Storage

        /// The server refused the statement or the login (``MySQLError/number`` is the
        /// server's error number, such as 1045, 1062 or 1064).
        public static let server = Code(storage: .server)
        /// The client library failed on its own (an error number from 2000 to 2999 that is
        /// not a lost connection).
        public static let client = Code(storage: .client)
        /// The server could not be reached, or the connection broke (the server went away or
        /// restarted): the connection is closed and a pool replaces it.
        public static let connectionLost = Code(storage: .connectionLost)
        /// The connection was closed, or discarded after a timeout, a cancellation or a lost
        /// connection, before this call.
        public static let closed = Code(storage: .closed)
        /// A row could not be decoded into the requested type.
        public static let decoding = Code(storage: .decoding)
        /// TLS was configured (``MySQLConfiguration/tls``) but could not be set up: the server
        /// offers none, its certificate is not signed by a trusted authority or names another
        /// host, or a certificate or key file could not be used (``MySQLError/number`` 2026,
        /// `CR_SSL_CONNECTION_ERROR`; the message says which).
        public static let tls = Code(storage: .tls)

        public var description: String { "\(storage)" }
    }

    /// What kind of failure this is.
    public let code: Code
    /// The server's or client library's error number (`mysql_errno`), 0 when none applies.
    public let number: UInt32
    /// The SQL state (`mysql_sqlstate`), such as `42000`; `HY000` when none is specific.
    public let sqlState: String
    /// The server's or client library's message.
    public let message: String
    /// What was being done, and against which server: `connect weave@127.0.0.1:3306`,
    /// `query 'SELECT …'`.
    public let operation: String

    init(_ code: Code, number: UInt32 = 0, sqlState: String = "HY000", message: String, operation: String) {
        self.code = code
        self.number = number
        self.sqlState = sqlState
        self.message = message
        self.operation = operation
    }

    /// Classifies an error reported by Connector/C.
    init(number: UInt32, sqlState: String, message: String, operation: String) {
        let code: Code
        switch number {
        // CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_GONE_ERROR,
        // CR_SERVER_LOST, CR_SERVER_LOST_EXTENDED: the socket is gone or never came up.
        case 2002, 2003, 2005, 2006, 2013, 2055: code = .connectionLost
        // CR_SSL_CONNECTION_ERROR.
        case 2026: code = .tls
        case 2000..<3000: code = .client
        default: code = .server
        }
        self.init(code, number: number, sqlState: sqlState, message: message, operation: operation)
    }

    public var description: String {
        number == 0
            ? "\(operation): \(message)"
            : "\(operation): error \(number) (\(sqlState)): \(message)"
    }
}
