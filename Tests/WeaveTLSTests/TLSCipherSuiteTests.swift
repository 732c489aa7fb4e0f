import Testing
import Weave
import WeaveTestSupport
import WeaveTLS

@Suite("TLS 1.3 cipher suites: the server's order")
struct TLSCipherSuiteTests {
    @Test("a default client (AES-256-GCM listed first) gets AES-128-GCM; both sides report it")
    func weaveClient() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (clientSide, serverSide) = try await onHub { () throws -> (String?, String?) in
            let seen = Box<String?>(nil)
            let echoServer = try StreamServer(port: 0, tls: server) { connection in
                seen.value = connection.negotiatedCipherSuite
                try echo(connection)
            }
            try echoServer.start()
            let connection = try TLSConnection.connect(host: "localhost", port: echoServer.localAddress!.port, context: client)
            try connection.write(Array("ping".utf8))
            try connection.shutdownWrite()
            _ = try readToEnd(connection)
            connection.close()
            try echoServer.stop(gracePeriod: .seconds(5))
            return (connection.negotiatedCipherSuite, seen.value)
        }
        #expect(clientSide == "TLS_AES_128_GCM_SHA256")
        #expect(serverSide == "TLS_AES_128_GCM_SHA256")
    }

    /// `openssl s_client` offers only `offered`, in that order; the server reports its choice.
    @Test("the server's order wins, but ChaCha20 first from the client stays first", arguments: [
        ("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
        ("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"),
        ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    ])
    func clientOrder(offered: String, expected: String) async throws {
        let server = try serverContext()
        let chosen = try await onHub { () throws -> String? in
            let seen = Box<String?>(nil)
            let echoServer = try StreamServer(port: 0, tls: server) { connection in
                seen.value = connection.negotiatedCipherSuite
                try echo(connection)
            }
            try echoServer.start()
            let result = try Command.run("openssl", arguments: [
                "s_client", "-connect", "127.0.0.1:\(echoServer.localAddress!.port)", "-tls1_3",
                "-ciphersuites", offered, "-no_ign_eof",
            ], input: Array("ping\n".utf8), timeout: .seconds(30))
            // s_client may exit before the server's coroutine has run its handler.
            for _ in 0..<500 where seen.value == nil { try Coroutine.sleep(for: .milliseconds(10)) }
            try echoServer.stop(gracePeriod: .seconds(5))
            if seen.value == nil { Issue.record("no TLS connection; openssl said: \(result.errorString)") }
            return seen.value
        }
        #expect(chosen == expected)
    }
}
