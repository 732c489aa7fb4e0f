import HTTPTypes
import Testing
import Weave
import WeaveHTTP
import WeaveTLS
import WeaveTestSupport

@Suite("HTTP client over TLS", .timeLimit(.minutes(2)))
struct HTTPClientTLSTests {
    private static func serverContext(_ certificates: ClientTestCertificates) throws -> TLSContext {
        try TLSContext(configuration: .server(certificateChain: .file(certificates.certificateFile),
                                              privateKey: .file(certificates.keyFile)))
    }

    @Test("HTTPS against the server with the test CA: verified, bodies both ways, one pooled connection")
    func httpsWithTestCA() async throws {
        let certificates = try ClientTestCertificates.shared()
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            let context = try Self.serverContext(certificates)
            try server.run(tls: context) { (port: Int) throws -> Void in
                var configuration = HTTPClient.Configuration()
                configuration.tls = .client(trustRoots: .pemFile(certificates.caFile))
                let client = HTTPClient(configuration: configuration)
                for host in ["127.0.0.1", "localhost"] {
                    let text = try client.get("https://\(host):\(port)/").text()
                    #expect(text == "Hello, World!")
                }
                let payload = (0..<40_000).map { UInt8(truncatingIfNeeded: $0) }
                #expect(try client.post("https://127.0.0.1:\(port)/chunked", body: .bytes(payload)).readAll() == payload)
                #expect(try client.post("https://127.0.0.1:\(port)/echo", body: .stream { try $0.write(payload) }).readAll() == payload)
                // 127.0.0.1 and localhost are two pool keys: two connections, each reused.
                #expect(server.acceptedCount == 2)
                client.close()
            }
        }
    }

    @Test("HTTPS with an unknown CA fails with the TLS error")
    func unknownCA() async throws {
        let certificates = try ClientTestCertificates.shared()
        try await onHub {
            let server = CountingServer(handler: clientTestHandler)
            let context = try Self.serverContext(certificates)
            try server.run(tls: context) { (port: Int) throws -> Void in
                var configuration = HTTPClient.Configuration()
                configuration.tls = .client(trustRoots: .pemFile(certificates.otherCAFile))
                let client = HTTPClient(configuration: configuration)
                let error = #expect(throws: HTTPClientError.self) { _ = try client.get("https://127.0.0.1:\(port)/") }
                #expect(error?.code == .tlsFailed)
                #expect((error?.underlyingError as? TLSError)?.code == .unknownCertificateAuthority)
                #expect(client.openConnectionCount == 0)
                // The system store does not know the test CA either.
                let system = #expect(throws: HTTPClientError.self) { _ = try HTTPClient().get("https://127.0.0.1:\(port)/") }
                #expect((system?.underlyingError as? TLSError)?.code == .unknownCertificateAuthority)
            }
        }
    }

    @Test("a redirect from http:// to https:// changes scheme and pool, and keeps verifying")
    func redirectToHTTPS() async throws {
        let certificates = try ClientTestCertificates.shared()
        try await onHub {
            let secure = CountingServer(handler: clientTestHandler)
            let context = try Self.serverContext(certificates)
            try secure.run(tls: context) { (securePort: Int) throws -> Void in
                let plain = CountingServer { _, response in
                    try response.respond(HTTPResponse(status: .found, headerFields: [.location: "https://localhost:\(securePort)/r/1"]),
                                         body: "")
                }
                try plain.run { (port: Int) throws -> Void in
                    var configuration = HTTPClient.Configuration()
                    configuration.tls = .client(trustRoots: .pemFile(certificates.caFile))
                    let client = HTTPClient(configuration: configuration)
                    let response = try client.get("http://127.0.0.1:\(port)/start")
                    #expect(response.url == "https://localhost:\(securePort)/r/0")
                    #expect(response.redirectCount == 2)
                    let text = try response.text()
                    #expect(text == "arrived")
                    #expect(client.openConnectionCount == 2)
                    #expect(secure.acceptedCount == 1)
                }
            }
        }
    }
}
