/// What a ``TLSContext`` is made from: the role, this side's certificate and key, what to
/// trust, how to verify the peer, the versions, ALPN and timeouts.
///
/// Start from ``client(trustRoots:serverName:applicationProtocols:)`` or
/// ``server(certificateChain:privateKey:applicationProtocols:)`` and change fields as needed:
///
/// ```swift
/// var configuration = TLSConfiguration.client(trustRoots: .pemFile("ca.pem"))
/// configuration.applicationProtocols = ["h2", "http/1.1"]
/// let context = try TLSContext(configuration: configuration)
/// ```
///
/// A client verifies the server's certificate and its hostname by default; turning that off
/// (``CertificateVerification/none``) must be written out and is logged as a warning. A server
/// asks for no client certificate unless its ``certificateVerification`` is
/// ``CertificateVerification/fullVerification`` (mutual TLS against its ``trustRoots``).
public struct TLSConfiguration: Sendable {
    /// Which side of the handshake a context is for.
    public struct Role: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable { case client, server }
        let storage: Storage
        /// Connects: sends SNI, verifies the server.
        public static let client = Role(storage: .client)
        /// Accepts: presents ``TLSConfiguration/certificateChain``.
        public static let server = Role(storage: .server)
        public var description: String { "\(storage)" }
    }

    /// PEM data: a file read when the context is made, or bytes in memory.
    public struct PEMSource: Sendable, CustomStringConvertible {
        enum Storage: Sendable { case file(String), bytes([UInt8]) }
        let storage: Storage
        /// A PEM file, read (blocking the thread briefly) when the ``TLSContext`` is made.
        public static func file(_ path: String) -> PEMSource { PEMSource(storage: .file(path)) }
        /// PEM text already in memory.
        public static func bytes(_ pem: [UInt8]) -> PEMSource { PEMSource(storage: .bytes(pem)) }
        /// PEM text already in memory.
        public static func string(_ pem: String) -> PEMSource { PEMSource(storage: .bytes(Array(pem.utf8))) }
        public var description: String {
            switch storage {
            case .file(let path): return path
            case .bytes(let bytes): return "<\(bytes.count) PEM bytes>"
            }
        }
    }

    /// The certificate authorities a peer's chain must lead to.
    public struct TrustRoots: Sendable {
        enum Storage: Sendable { case system, pem(PEMSource) }
        let storage: Storage
        /// The system's store (Debian: `/etc/ssl/certs`, from `ca-certificates`).
        public static let system = TrustRoots(storage: .system)
        /// Only the certificates of a PEM file (one or more).
        public static func pemFile(_ path: String) -> TrustRoots { TrustRoots(storage: .pem(.file(path))) }
        /// Only the certificates of PEM text (one or more).
        public static func pem(_ source: PEMSource) -> TrustRoots { TrustRoots(storage: .pem(source)) }
    }

    /// How the peer's certificate is checked.
    public struct CertificateVerification: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable { case full, noHostname, none }
        let storage: Storage
        /// The chain must lead to a trusted root and be in date; a client also checks that
        /// the certificate names the host (or IP address) it connected to. The client default.
        public static let fullVerification = CertificateVerification(storage: .full)
        /// The chain is checked, the name is not (a server known by its certificate only).
        public static let noHostnameVerification = CertificateVerification(storage: .noHostname)
        /// Nothing is checked: anyone in the middle can read and change the traffic. For a
        /// client this is logged as a warning when the context is made. A server's default
        /// (it asks for no client certificate).
        public static let none = CertificateVerification(storage: .none)
        public var description: String { "\(storage)" }
    }

    /// A TLS protocol version.
    public struct Version: Hashable, Sendable, Comparable, CustomStringConvertible {
        let rawValue: Int
        /// TLS 1.2 (RFC 5246), the lowest offered.
        public static let tlsv12 = Version(rawValue: 0x0303)
        /// TLS 1.3 (RFC 8446).
        public static let tlsv13 = Version(rawValue: 0x0304)
        public static func < (lhs: Version, rhs: Version) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String { rawValue == 0x0304 ? "TLSv1.3" : "TLSv1.2" }
    }

    /// Client or server.
    public var role: Role
    /// This side's certificate followed by its intermediates (PEM, leaf first). A server
    /// needs one; a client presents one only if the server asks (mutual TLS).
    public var certificateChain: PEMSource?
    /// The private key of the first certificate of ``certificateChain`` (PEM, unencrypted).
    public var privateKey: PEMSource?
    /// What the peer's certificate must lead to. Default: the system's store.
    public var trustRoots: TrustRoots = .system
    /// How the peer's certificate is checked; see ``CertificateVerification``.
    public var certificateVerification: CertificateVerification
    /// The lowest version accepted. Default TLS 1.2; nothing lower is possible.
    public var minimumVersion: Version = .tlsv12
    /// ALPN protocol names, most preferred first (`["h2", "http/1.1"]`). A client offers
    /// them; a server picks the first of its own the client offers, and answers without
    /// ALPN when there is none in common.
    public var applicationProtocols: [String] = []
    /// The name a client sends as SNI and checks the certificate against, unless the call
    /// that connects names one. Nil: the host connected to.
    public var serverName: String?
    /// The longest a handshake may take, from the first byte sent or awaited to the last.
    /// Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)

    /// A configuration for `role`; the factories below are the usual start.
    public init(role: Role) {
        self.role = role
        self.certificateVerification = role == .client ? .fullVerification : .none
    }

    /// A client that verifies the server against `trustRoots` (default: the system's store)
    /// and its hostname.
    public static func client(
        trustRoots: TrustRoots = .system, serverName: String? = nil, applicationProtocols: [String] = []
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .client)
        configuration.trustRoots = trustRoots
        configuration.serverName = serverName
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }

    /// A server presenting `certificateChain` (leaf first) with `privateKey`; it asks for no
    /// client certificate.
    public static func server(
        certificateChain: PEMSource, privateKey: PEMSource, applicationProtocols: [String] = []
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .server)
        configuration.certificateChain = certificateChain
        configuration.privateKey = privateKey
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }
}
