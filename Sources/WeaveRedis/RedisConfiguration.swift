import WeaveTLS

/// Where a Redis server is and how to talk to it: the address, TLS, credentials, database,
/// protocol version and timeouts that ``RedisConnection/connect(_:)`` and
/// ``RedisConnectionPool`` use.
public struct RedisConfiguration: Sendable {
    /// The RESP version to speak.
    public enum ProtocolVersion: Int, Sendable {
        /// RESP2: the default of every Redis; no `HELLO` is sent.
        case resp2 = 2
        /// RESP3 (Redis 6 and later): `HELLO 3` on connect; maps, doubles, booleans and pushes.
        case resp3 = 3
    }

    /// The server's host name or address.
    public var host: String
    /// The server's TCP port (its `tls-port` when ``tls`` is set).
    public var port: Int
    /// TLS for every connection made from this configuration, nil for plain TCP. The server's
    /// certificate is verified against the configuration's trust roots and its
    /// `TLSConfiguration.serverName` (default: ``host``, which may be an IP
    /// address listed in the certificate); a role other than client is a programmer error.
    ///
    /// ```swift
    /// let configuration = RedisConfiguration(port: 6380, tls: .client(trustRoots: .pemFile("ca.pem")))
    /// ```
    public var tls: TLSConfiguration?
    /// The ACL user for `AUTH`/`HELLO`; nil means `default`.
    public var username: String?
    /// The password for `AUTH`/`HELLO`; nil sends no `AUTH`.
    public var password: String?
    /// The database `SELECT`ed on connect; 0 sends no `SELECT`.
    public var database: Int
    /// The protocol version; `HELLO 3` is sent on connect for ``ProtocolVersion/resp3``.
    public var protocolVersion: ProtocolVersion
    /// The name given with `CLIENT SETNAME` (in `HELLO` for RESP3), shown by `CLIENT LIST`.
    public var clientName: String?
    /// The longest a connect may take: resolution, TCP handshake, TLS handshake (which its
    /// own `TLSConfiguration.handshakeTimeout` bounds too) and the
    /// `HELLO`/`AUTH`/`SELECT` exchange together.
    public var connectTimeout: Duration?
    /// The longest a command waits for its reply unless the call gives its own timeout; nil
    /// waits for ever. When it passes, the connection is closed (see ``RedisConnection``).
    public var commandTimeout: Duration?

    /// Describes a server at `host:port` (6379 by default).
    public init(
        host: String = "127.0.0.1", port: Int = 6379, tls: TLSConfiguration? = nil, username: String? = nil, password: String? = nil,
        database: Int = 0, protocolVersion: ProtocolVersion = .resp2, clientName: String? = nil,
        connectTimeout: Duration? = .seconds(10), commandTimeout: Duration? = nil
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.database = database
        self.protocolVersion = protocolVersion
        self.clientName = clientName
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }
}
