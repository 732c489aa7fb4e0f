import Glibc
import Synchronization

/// A certificate authority and a server certificate it signed, made with the `openssl`
/// command line in a temporary directory once per test process, for test targets that start
/// TLS servers (redis-server, memcached): the server certificate names `localhost` and
/// 127.0.0.1 (ECDSA P-256, valid 30 days). The system's trust store does not know the CA, so
/// a client trusting only the system rejects the server. The directory is removed at exit.
public struct TestCertificateAuthority: Sendable {
    /// Where the files are.
    public let directory: String

    /// The CA's certificate (PEM): what a client should trust.
    public var caFile: String { "\(directory)/ca.pem" }
    /// The server's certificate (PEM), for `localhost` and 127.0.0.1.
    public var serverCertificateFile: String { "\(directory)/server.pem" }
    /// The server certificate's private key (PEM, unencrypted).
    public var serverKeyFile: String { "\(directory)/server.key" }

    private static let cache = Mutex<TestCertificateAuthority?>(nil)

    /// The process's CA and server certificate, made on first use (blocking the calling
    /// thread for the `openssl` runs).
    ///
    /// - Throws: ``TestCertificateError`` when `openssl` is missing or fails (its output is
    ///   in the directory's `openssl.log`).
    public static func shared() throws -> TestCertificateAuthority {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> TestCertificateAuthority {
        let directory = try makeScratchDirectory("weave-test-ca")
        let authority = TestCertificateAuthority(directory: directory)
        try runOpenSSL(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", "\(directory)/ca.key", "-out", authority.caFile, "-days", "30",
                           "-subj", "/CN=Weave Test Server CA", "-addext", "basicConstraints=critical,CA:TRUE",
                           "-addext", "keyUsage=critical,keyCertSign,cRLSign"], log: "\(directory)/openssl.log")
        let extensions = "\(directory)/server.ext"
        try writeTextFile("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                            + "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n", to: extensions)
        try runOpenSSL(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", authority.serverKeyFile, "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"], log: "\(directory)/openssl.log")
        try runOpenSSL(["x509", "-req", "-in", "\(directory)/server.csr", "-CA", authority.caFile,
                           "-CAkey", "\(directory)/ca.key", "-set_serial", "2", "-days", "30", "-extfile", extensions,
                           "-out", authority.serverCertificateFile], log: "\(directory)/openssl.log")
        return authority
    }
}

/// Making the test certificates failed.
public struct TestCertificateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
