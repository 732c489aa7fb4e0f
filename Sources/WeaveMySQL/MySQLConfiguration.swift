/// Where and as whom a ``MySQLConnection`` or ``MySQLPool`` connects.
public struct MySQLConfiguration: Sendable {
    /// The server's host name or address; ignored when ``unixSocket`` is set.
    public var host: String
    /// The server's TCP port.
    public var port: Int
    /// The user to log in as.
    public var user: String
    /// The user's password (nil: none).
    public var password: String?
    /// The default database (nil: none).
    public var database: String?
    /// A Unix socket path to connect through instead of TCP.
    public var unixSocket: String?
    /// How long connecting (including the login) may take; nil waits as long as it takes.
    public var connectTimeout: Duration?
    /// The session's `time_zone`, set at login: UTC (`+00:00`) by default, which is how
    /// ``MySQLValue/date(_:)`` reads and writes `DATETIME`s, so that `TIMESTAMP` columns
    /// (stored as UTC, shown in the session's zone) round-trip a `Date` exactly. Nil keeps
    /// the server's default.
    public var timeZone: String?
    /// Whether one text query may hold several statements separated by `;`
    /// (`CLIENT_MULTI_STATEMENTS`; read their results with
    /// ``MySQLConnection/queryResults(_:_:)``). Off by default: with it, SQL built by pasting
    /// text together can run statements nobody meant. A `CALL` returns several results either way.
    public var allowsMultipleStatements: Bool
    /// Whether and how the session is encrypted with TLS; nil (the default): not at all.
    /// See ``MySQLTLS``: with it set, a server without TLS, an unknown certificate authority or
    /// a certificate for another host fails the connect with ``MySQLError/Code/tls``.
    public var tls: MySQLTLS?

    /// - Parameters: see the properties of the same names.
    public init(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String? = nil,
        database: String? = nil, unixSocket: String? = nil, connectTimeout: Duration? = .seconds(10),
        timeZone: String? = "+00:00", allowsMultipleStatements: Bool = false, tls: MySQLTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.unixSocket = unixSocket
        self.connectTimeout = connectTimeout
        self.timeZone = timeZone
        self.allowsMultipleStatements = allowsMultipleStatements
        self.tls = tls
    }

    /// `user@host:port` (or `user@socket`), for error messages.
    var serverDescription: String {
        if let unixSocket { return "\(user)@\(unixSocket)" }
        return "\(user)@\(host):\(port)"
    }
}
