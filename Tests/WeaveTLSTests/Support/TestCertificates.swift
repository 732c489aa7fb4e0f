import Glibc
import Synchronization
import WeaveTestSupport

/// A CA and certificates made with the `openssl` command line into a temporary directory,
/// once per test process (ECDSA P-256): a valid server certificate for `localhost` and
/// 127.0.0.1 signed by the CA, an expired one, one for another host, and one signed by a CA
/// the clients do not trust. The directory is removed when the process exits.
struct TestCertificates: Sendable {
    let directory: String

    var caFile: String { "\(directory)/ca.pem" }
    /// (certificate, key) paths for a server certificate of `kind`.
    func server(_ kind: Kind) -> (certificate: String, key: String) {
        ("\(directory)/\(kind.rawValue).pem", "\(directory)/\(kind.rawValue).key")
    }

    enum Kind: String, Sendable, CaseIterable {
        /// For localhost and 127.0.0.1, signed by the CA.
        case valid
        /// For localhost, signed by the CA, past its notAfter.
        case expired
        /// For wrong.example only, signed by the CA.
        case wrongHost
        /// For localhost, signed by another CA.
        case unknownAuthority
    }

    private static let cache = Mutex<TestCertificates?>(nil)

    /// The process's certificates, made on first use (blocks the calling thread for that).
    static func shared() throws -> TestCertificates {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> TestCertificates {
        let directory = try makeScratchDirectory("weave-tls")
        let certificates = TestCertificates(directory: directory)
        try certificates.makeAuthority("ca", name: "Weave Test CA")
        try certificates.makeAuthority("otherca", name: "Untrusted Test CA")
        try certificates.makeLeaf(.valid, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: 30, signer: "ca", serial: 2)
        try certificates.makeLeaf(.expired, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: -1, signer: "ca", serial: 3)
        try certificates.makeLeaf(.wrongHost, commonName: "wrong.example", names: "DNS:wrong.example", days: 30, signer: "ca", serial: 4)
        try certificates.makeLeaf(.unknownAuthority, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: 30,
                                  signer: "otherca", serial: 5)
        return certificates
    }

    private func makeAuthority(_ file: String, name: String) throws {
        try runOpenSSL(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "\(directory)/\(file).key", "-out", "\(directory)/\(file).pem", "-days", "30",
                     "-subj", "/CN=\(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"], log: "\(directory)/openssl.log")
    }

    private func makeLeaf(_ kind: Kind, commonName: String, names: String, days: Int, signer: String, serial: Int) throws {
        let (certificate, key) = server(kind)
        let request = "\(directory)/\(kind.rawValue).csr"
        let extensions = "\(directory)/\(kind.rawValue).ext"
        try writeTextFile("subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
                  to: extensions)
        try runOpenSSL(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", request, "-subj", "/CN=\(commonName)"], log: "\(directory)/openssl.log")
        // A negative -days gives a notAfter before now: an expired certificate.
        try runOpenSSL(["x509", "-req", "-in", request, "-CA", "\(directory)/\(signer).pem", "-CAkey", "\(directory)/\(signer).key",
                     "-set_serial", "\(serial)", "-days", "\(days)", "-extfile", extensions, "-out", certificate], log: "\(directory)/openssl.log")
    }

    /// Reads a file made here (for the tests that pass PEM bytes).
    func contents(of path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw CertificateError("cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }
}

struct CertificateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
