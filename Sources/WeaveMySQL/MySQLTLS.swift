/// How a ``MySQLConnection`` encrypts its session with TLS (set it as
/// ``MySQLConfiguration/tls``).
///
/// With TLS configured the connection is always encrypted: a server that offers no TLS is
/// refused with ``MySQLError/Code/tls``. By default the server's certificate is verified
/// against ``caFile`` (the system's trust store when nil), and its name against the host
/// connected to (or ``serverName``); turning that off takes ``unverified(certificateFile:keyFile:)``,
/// which still encrypts but accepts any certificate, so anyone in the middle can read along.
///
/// ```swift
/// var configuration = MySQLConfiguration(host: "db.example.com", user: "app", password: secret)
/// configuration.tls = MySQLTLS(caFile: "/etc/mysql/ca.pem")
/// ```
public struct MySQLTLS: Sendable {
    /// A PEM file of the certificate authorities to trust; nil: the system's default ones.
    public var caFile: String?
    /// A PEM file with the client's certificate (chain), for servers that require one
    /// (`REQUIRE X509`); nil: none.
    public var certificateFile: String?
    /// The PEM file of the private key of ``certificateFile``; nil: none (or the key is in
    /// ``certificateFile``).
    public var keyFile: String?
    /// Whether the server's certificate chain and name are verified.
    public private(set) var verifiesServer: Bool
    /// The name the server's certificate must carry; nil: the configuration's `host`
    /// (`localhost` over a Unix socket). Set it to connect by address to a server whose
    /// certificate names it by host name.
    public var serverName: String?

    /// TLS with the server's certificate and name verified.
    ///
    /// - Parameters: see the properties of the same names.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.verifiesServer = true
    }

    /// TLS without verifying the server: the session is encrypted, but any certificate is
    /// accepted, so it does not protect against an attacker in the middle. The explicit opt-out
    /// for test servers with throwaway certificates.
    ///
    /// - Parameters: see the properties of the same names.
    public static func unverified(certificateFile: String? = nil, keyFile: String? = nil) -> MySQLTLS {
        var tls = MySQLTLS(certificateFile: certificateFile, keyFile: keyFile)
        tls.verifiesServer = false
        return tls
    }
}
