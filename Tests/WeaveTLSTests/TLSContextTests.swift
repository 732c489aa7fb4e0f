import Testing
import WeaveTLS

@Suite("TLS contexts: configuration errors")
struct TLSContextTests {
    @Test("a missing certificate file is unreadableFile, naming it")
    func missingFile() throws {
        let error = #expect(throws: TLSError.self) {
            try TLSContext(configuration: .server(certificateChain: .file("/nonexistent/cert.pem"), privateKey: .file("/nonexistent/key.pem")))
        }
        #expect(error?.code == .unreadableFile)
        #expect(error?.message.contains("/nonexistent/cert.pem") == true)
    }

    @Test("a key that does not belong to the certificate is privateKeyMismatch")
    func keyMismatch() throws {
        let certificates = try TestCertificates.shared()
        let error = #expect(throws: TLSError.self) {
            try TLSContext(configuration: .server(certificateChain: .file(certificates.server(.valid).certificate),
                                                  privateKey: .file(certificates.server(.expired).key)))
        }
        #expect(error?.code == .privateKeyMismatch)
    }

    @Test("PEM bytes work as files do; garbage, a server without certificate and a bad ALPN name are invalidConfiguration")
    func invalid() throws {
        let certificates = try TestCertificates.shared()
        let (certificate, key) = certificates.server(.valid)
        _ = try TLSContext(configuration: .server(certificateChain: .bytes(certificates.contents(of: certificate)),
                                                  privateKey: .bytes(certificates.contents(of: key))))
        _ = try TLSContext(configuration: .client(trustRoots: .pem(.bytes(certificates.contents(of: certificates.caFile)))))
        let garbage = #expect(throws: TLSError.self) {
            try TLSContext(configuration: .server(certificateChain: .string("not a certificate"), privateKey: .file(key)))
        }
        #expect(garbage?.code == .invalidConfiguration)
        let badKey = #expect(throws: TLSError.self) {
            try TLSContext(configuration: .server(certificateChain: .file(certificate), privateKey: .string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")))
        }
        #expect(badKey?.code == .invalidConfiguration)
        let noCertificate = #expect(throws: TLSError.self) { try TLSContext(configuration: TLSConfiguration(role: .server)) }
        #expect(noCertificate?.code == .invalidConfiguration)
        let badALPN = #expect(throws: TLSError.self) {
            try TLSContext(configuration: .client(applicationProtocols: ["", "h2"]))
        }
        #expect(badALPN?.code == .invalidConfiguration)
    }

    @Test("defaults: a client verifies fully, a server asks no certificate; TLS 1.2 minimum; 10 s handshakes")
    func defaults() {
        let client = TLSConfiguration.client()
        #expect(client.certificateVerification == .fullVerification)
        #expect(client.minimumVersion == .tlsv12)
        #expect(client.handshakeTimeout == .seconds(10))
        let server = TLSConfiguration.server(certificateChain: .file("c"), privateKey: .file("k"))
        #expect(server.certificateVerification == .none)
        #expect(server.role == .server)
    }
}
