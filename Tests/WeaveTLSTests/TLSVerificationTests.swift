import InMemoryLogging
import Logging
import Testing
import Weave
import WeaveTestSupport
import WeaveTLS

@Suite("TLS certificate verification")
struct TLSVerificationTests {
    /// Connects a verifying client to a server presenting `kind`; returns the client's error
    /// and what the server's handshake threw.
    private static func handshake(
        _ kind: TestCertificates.Kind, host: String = "localhost", client: TLSContext? = nil
    ) async throws -> (client: TLSError?, server: TLSError?) {
        let server = try serverContext(kind)
        let client = try client ?? clientContext()
        return try await onHub { () throws -> (TLSError?, TLSError?) in
            let listener = try TCPListener.bind(port: 0)
            let serverSide = try spawn { () throws -> TLSError? in
                do {
                    let connection = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                    try echo(connection)
                    return nil
                } catch let error as TLSError {
                    return error
                }
            }
            var clientError: TLSError?
            do {
                let connection = try TLSConnection.connect(host: host, port: listener.localAddress!.port, context: client)
                try connection.shutdownWrite()
                _ = try readToEnd(connection)
                connection.close()
            } catch let error as TLSError {
                clientError = error
            }
            let serverError = try serverSide.join()
            listener.close()
            return (clientError, serverError)
        }
    }

    @Test("a valid chain for the host passes")
    func valid() async throws {
        let (client, server) = try await Self.handshake(.valid)
        #expect(client == nil)
        #expect(server == nil)
    }

    @Test("an expired certificate is certificateExpired; the server hears why")
    func expired() async throws {
        let (client, server) = try await Self.handshake(.expired)
        #expect(client?.code == .certificateExpired)
        #expect(client?.verificationResult == 10)  // X509_V_ERR_CERT_HAS_EXPIRED
        #expect(server?.code == .handshakeFailed)
        #expect(server?.reason?.contains("certificate expired") == true)
    }

    @Test("a certificate for another host is hostnameMismatch, naming the host expected")
    func wrongHost() async throws {
        let (client, server) = try await Self.handshake(.wrongHost)
        #expect(client?.code == .hostnameMismatch)
        #expect(client?.expectedHostname == "localhost")
        #expect(server?.code == .handshakeFailed)
    }

    @Test("connecting by IP address checks the IP SAN")
    func wrongAddress() async throws {
        let (client, _) = try await Self.handshake(.wrongHost, host: "127.0.0.1")
        #expect(client?.code == .hostnameMismatch)
        #expect(client?.expectedHostname == "127.0.0.1")
        let (valid, _) = try await Self.handshake(.valid, host: "127.0.0.1")
        #expect(valid == nil)
    }

    @Test("a certificate from a CA not trusted is unknownCertificateAuthority; the server hears 'unknown ca'")
    func unknownAuthority() async throws {
        let (client, server) = try await Self.handshake(.unknownAuthority)
        #expect(client?.code == .unknownCertificateAuthority)
        #expect(server?.code == .handshakeFailed)
        #expect(server?.reason?.contains("unknown ca") == true)
    }

    @Test("the system trust store does not trust the test CA")
    func systemStore() async throws {
        let (client, _) = try await Self.handshake(.valid, client: TLSContext(configuration: .client()))
        #expect(client?.code == .unknownCertificateAuthority)
    }

    @Test("noHostnameVerification accepts a wrong host but not an unknown CA")
    func noHostname() async throws {
        var configuration = TLSConfiguration.client(trustRoots: .pemFile(try TestCertificates.shared().caFile))
        configuration.certificateVerification = .noHostnameVerification
        let context = try TLSContext(configuration: configuration)
        #expect(try await Self.handshake(.wrongHost, client: context).client == nil)
        #expect(try await Self.handshake(.unknownAuthority, client: context).client?.code == .unknownCertificateAuthority)
    }

    @Test("verification .none accepts anything, and says so once, as a warning")
    func verificationOff() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "tls-test") { _ in handler }
        var configuration = TLSConfiguration.client()
        configuration.certificateVerification = .none
        let context = try TLSContext(configuration: configuration, logger: logger)
        for kind in [TestCertificates.Kind.expired, .wrongHost, .unknownAuthority] {
            #expect(try await Self.handshake(kind, client: context).client == nil)
        }
        let warnings = handler.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first.map { "\($0.message)".contains("verification is OFF") } == true)
    }
}

@Suite("TLS client certificates (mutual TLS)")
struct TLSClientCertificateTests {
    @Test("a server with fullVerification takes a client certificate from its CA and refuses a client without one")
    func mutualTLS() async throws {
        let certificates = try TestCertificates.shared()
        let (certificate, key) = certificates.server(.valid)
        var serverConfiguration = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key))
        serverConfiguration.trustRoots = .pemFile(certificates.caFile)
        serverConfiguration.certificateVerification = .noHostnameVerification
        let server = try TLSContext(configuration: serverConfiguration)
        var withCertificate = TLSConfiguration.client(trustRoots: .pemFile(certificates.caFile))
        withCertificate.certificateChain = .file(certificate)
        withCertificate.privateKey = .file(key)
        let presenting = try TLSContext(configuration: withCertificate)
        let anonymous = try clientContext()
        let (subjects, refusal) = try await onHub { () throws -> ([String?], TLSError?) in
            let listener = try TCPListener.bind(port: 0)
            let serverSide = try spawn { () throws -> ([String?], TLSError?) in
                var subjects: [String?] = []
                let first = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                subjects.append(first.peerCertificate?.subject)
                try echo(first)
                first.close()
                do {
                    let second = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                    subjects.append(second.peerCertificate?.subject)
                    second.close()
                    return (subjects, nil)
                } catch let error as TLSError {
                    return (subjects, error)
                }
            }
            let port = listener.localAddress!.port
            let first = try TLSConnection.connect(host: "localhost", port: port, context: presenting)
            try first.shutdownWrite()
            _ = try readToEnd(first)
            first.close()
            // TLS 1.3: the client finishes before the server has judged it; the refusal
            // reaches it as an alert on its first read, if at all. The server's side is what counts.
            if let second = try? TLSConnection.connect(host: "localhost", port: port, context: anonymous) {
                _ = try? readToEnd(second)
                second.close()
            }
            let result = try serverSide.join()
            listener.close()
            return result
        }
        #expect(subjects == ["CN=localhost"])
        #expect(refusal?.code == .handshakeFailed)
        #expect(refusal?.reason?.contains("certificate") == true)
    }
}
