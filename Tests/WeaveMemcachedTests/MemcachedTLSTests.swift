import Testing
import Weave
import WeaveMemcached
import WeaveTLS
import WeaveTestSupport

@Suite("memcached over TLS")
struct MemcachedTLSTests {
    /// The client trusting the shared test CA (the certificate names 127.0.0.1).
    private func configuration(trust roots: TLSConfiguration.TrustRoots? = nil) throws -> MemcachedClient.Configuration {
        let authority = try TestCertificateAuthority.shared()
        return MemcachedClient.Configuration(maximumConnectionsPerServer: 4, tls: .client(trustRoots: roots ?? .pemFile(authority.caFile)))
    }

    @Test("commands, pipelined gets and 50 coroutines through the pool over TLS; sockets closed after")
    func commands() async throws {
        try await onHub {
            try withMemcached(tls: true) { processes in
                let memcached = processes[0]
                let client = try MemcachedClient(servers: [memcached.tlsServer], configuration: try configuration())
                try client.set("greeting", "hello over TLS")
                try check(try client.getString("greeting") == "hello over TLS", "a value set over TLS reads back")
                // Larger than a TLS record, and than the size written from the caller's array.
                let large = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
                try client.set("large", large)
                try check(try client.get("large") == large, "a 100 kB value comes back whole")
                for index in 0..<20 { try client.set("k\(index)", "\(index)") }
                let many = try client.getMany((0..<25).map { "k\($0)" })
                try check(many.count == 20 && many["k19"] == Array("19".utf8), "getMany pipelines over TLS: \(many.count)")
                let users = try (0..<50).map { index in
                    try spawn { () throws -> Bool in
                        try client.set("user\(index)", "\(index)")
                        return try client.getString("user\(index)") == "\(index)"
                    }
                }
                for user in users { try check(try user.join(), "each coroutine reads its own value") }
                let open = client.openConnectionCount(to: memcached.tlsServer)
                try check(open >= 1 && open <= 4, "at most 4 connections: \(open)")
                try check(openSocketCount(toPort: memcached.port) == 0, "nothing went to the plain port")
                client.close()
                try Coroutine.sleep(for: .milliseconds(50))
                try check(openSocketCount(toPort: memcached.tlsPort!) == 0, "no socket left to the server")
            }
        }
    }

    @Test("a server certificate from an unknown CA fails the command with the TLSError, and leaves nothing open")
    func unknownAuthority() async throws {
        try await onHub {
            try withMemcached(tls: true) { processes in
                let memcached = processes[0]
                // The system's store does not know the test CA.
                let client = try MemcachedClient(servers: [memcached.tlsServer], configuration: try configuration(trust: .system))
                defer { client.close() }
                let error = try checkThrows(.connectionFailed) { try client.get("k") }
                let tls = error.underlying as? TLSError
                try check(tls?.code == .unknownCertificateAuthority, "the TLS error underneath: \(error)")
                try check(client.openConnectionCount(to: memcached.tlsServer) == 0, "no connection counted")
                try check(openSocketCount(toPort: memcached.tlsPort!) == 0, "no socket left open")
            }
        }
    }

    @Test("a killed server gives typed errors; the restarted one is reconnected to over TLS")
    func restart() async throws {
        try await onHub {
            try withMemcached(tls: true) { processes in
                let memcached = processes[0]
                let client = try MemcachedClient(servers: [memcached.tlsServer], configuration: try configuration())
                defer { client.close() }
                try client.set("k", "before")
                try memcached.kill()
                try checkThrows(.connectionFailed) { try client.get("k") }
                try check(client.openConnectionCount(to: memcached.tlsServer) == 0, "dead connections are closed")
                try memcached.restart()
                try check(try client.get("k") == nil, "the restarted server is empty, and answers")
                try client.set("k", "after")
                try check(try client.getString("k") == "after", "the pool reconnected over TLS")
            }
        }
    }
}
