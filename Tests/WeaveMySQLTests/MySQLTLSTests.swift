import Glibc
import Testing
import Weave
@testable import WeaveMySQL
import WeaveTestSupport

@Suite("MySQLConnection over TLS against a real MariaDB server", .serialized)
struct MySQLTLSTests {
    @Test("a verified TLS session is encrypted (Ssl_cipher); queries, prepared statements and a pool run over it; no socket is left")
    func encryptedSession() async throws {
        let (cipher, statusCipher, rows, prepared, pooled, sessions, left) = try await onHub {
            () throws -> (String?, String, [String], [Int], [Int], Int, Int) in
            let configuration = try TLSTestServer.configuration { MySQLTLS(caFile: $0.caFile) }
            let connection = try MySQLConnection.connect(configuration)
            let cipher = connection.tlsCipher
            let statusCipher = try connection.query(StatusRow.self, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").first?.Value ?? ""
            let table = uniqueTableName("tls")
            try connection.execute("CREATE TABLE \(table) (id INT PRIMARY KEY, name VARCHAR(40))")
            for (id, name) in [(1, "ada"), (2, "grace"), (3, "edsger")] {
                try connection.execute("INSERT INTO \(table) VALUES (?, ?)", .int(Int64(id)), .string(name))
            }
            let rows = try connection.query(String.self, "SELECT name FROM \(table) ORDER BY id")
            let prepared = try (1...3).map { try connection.query(Int.self, "SELECT id FROM \(table) WHERE id = ?", .int(Int64($0)))[0] }
            try connection.execute("DROP TABLE \(table)")
            connection.close()

            let pool = MySQLPool(configuration: configuration, maximumConnections: 4)
            let sessions = Box<Set<UInt>>([])
            let workers = try (0..<12).map { index in
                try spawn { () throws -> Int in
                    try pool.withConnection { connection in
                        precondition(connection.isEncrypted, "a pooled connection is not encrypted")
                        sessions.value.insert(connection.serverThreadID)
                        return try connection.query(Int.self, "SELECT ? + 0 * SLEEP(0.01)", .int(Int64(index)))[0]
                    }
                }
            }
            let pooled = try workers.map { try $0.join() }
            pool.close()
            return (cipher, statusCipher, rows, prepared, pooled, sessions.value.count, socketsConnected(toPort: configuration.port))
        }
        #expect(cipher?.isEmpty == false)
        #expect(statusCipher == cipher)
        #expect(rows == ["ada", "grace", "edsger"])
        #expect(prepared == [1, 2, 3])
        #expect(pooled == Array(0..<12))
        // The pool lends its TLS connections again (nothing left to read on an idle one).
        #expect(sessions == 4)
        #expect(left == 0)
    }

    @Test("an unknown CA, a certificate for another host, a server without TLS: MySQLError .tls (2026) saying which; no socket to the TLS server is left")
    func verificationFailures() async throws {
        let (failures, left) = try await onHub { () throws -> ([String: MySQLError], Int) in
            // The server without TLS.
            func plain(_ tls: MySQLTLS) throws -> MySQLConfiguration {
                var configuration = try TestServer.configuration()
                configuration.tls = tls
                return configuration
            }
            var failures: [String: MySQLError] = [:]
            let attempts: [(String, MySQLConfiguration)] = [
                // The system's trust store does not know the test CA.
                ("unknown CA", try TLSTestServer.configuration { _ in MySQLTLS() }),
                ("wrong host", try TLSTestServer.configuration { MySQLTLS(caFile: $0.caFile, serverName: "wrong.example") }),
                ("no TLS, verified", try plain(MySQLTLS())),
                ("no TLS, unverified", try plain(.unverified())),
            ]
            for (name, configuration) in attempts {
                do {
                    let connection = try MySQLConnection.connect(configuration)
                    connection.close()
                } catch let error as MySQLError {
                    failures[name] = error
                }
            }
            // The plain server is shared with suites running meanwhile: only the TLS server's
            // port says what this test left.
            let tlsPort = try TLSTestServer.configuration { _ in nil }.port
            return (failures, socketsConnected(toPort: tlsPort))
        }
        #expect(failures.count == 4)
        for (name, error) in failures {
            #expect(error.code == .tls, "\(name): \(error)")
            #expect(error.number == 2026, "\(name): \(error)")
        }
        #expect(failures["unknown CA"]?.message.contains("failed verification against the system's trusted authorities") == true,
                "\(String(describing: failures["unknown CA"]))")
        #expect(failures["wrong host"]?.message.contains("does not name 'wrong.example'") == true,
                "\(String(describing: failures["wrong host"]))")
        #expect(failures["no TLS, verified"]?.message.contains("does not offer TLS") == true,
                "\(String(describing: failures["no TLS, verified"]))")
        #expect(failures["no TLS, unverified"]?.message.contains("does not offer TLS") == true,
                "\(String(describing: failures["no TLS, unverified"]))")
        #expect(left == 0)
    }

    @Test("unverified TLS encrypts with a certificate no authority vouches for; the name the certificate carries is checked, not the address")
    func unverifiedAndServerName() async throws {
        let (unverified, named) = try await onHub { () throws -> (Bool, Bool) in
            let unverified = try MySQLConnection.connect(try TLSTestServer.configuration { _ in .unverified() })
            defer { unverified.close() }
            // The certificate names localhost and 127.0.0.1: connecting to the address while
            // checking for localhost passes.
            let named = try MySQLConnection.connect(try TLSTestServer.configuration { MySQLTLS(caFile: $0.caFile, serverName: "localhost") })
            defer { named.close() }
            return (unverified.isEncrypted, named.isEncrypted)
        }
        #expect(unverified)
        #expect(named)
    }

    // Event-driven, not a time window: the prepared query waits for a lock that a coroutine on
    // the same hub releases after three sleeps. A hub held by a TLS read could not release it,
    // and the query would give up after 30 s with 0.
    @Test("a slow query over TLS parks the coroutine while others run; a timeout mid-query discards the connection and its socket")
    func slowQueryParks() async throws {
        let (obtained, outcome, open, left) = try await onHub { () throws -> (Int, String, Bool, Int) in
            let configuration = try TLSTestServer.configuration { MySQLTLS(caFile: $0.caFile) }
            let connection = try MySQLConnection.connect(configuration)
            let holder = try MySQLConnection.connect(configuration)
            let lock = uniqueTableName("weave_tls_park")
            _ = try holder.query("SELECT GET_LOCK(?, 0)", .string(lock))
            let releaser = try spawn {
                for _ in 0..<3 { try Coroutine.sleep(for: .milliseconds(5)) }
                _ = try holder.query("SELECT RELEASE_LOCK(?)", .string(lock))
            }
            // Prepared: the execute writes and reads inside one library call, where a TLS
            // read on a blocking socket would hold the hub.
            let obtained = try connection.query(Int.self, "SELECT GET_LOCK(?, 30)", .string(lock))[0]
            try releaser.join()
            var outcome = "finished"
            do {
                _ = try withTimeout(.milliseconds(200)) { try connection.query("SELECT SLEEP(5)") }
            } catch is TimeoutError {
                outcome = "timed out"
            }
            holder.close()
            return (obtained, outcome, connection.isOpen, socketsConnected(toPort: configuration.port))
        }
        #expect(obtained == 1)
        #expect(outcome == "timed out")
        #expect(!open)
        #expect(left == 0)
    }

    // Event-driven, not a time window: once the server has the client's first handshake bytes,
    // this coroutine sleeps three times on the same hub and then cancels the connect. A hub
    // blocked in the handshake could do neither (and the connect would never end).
    @Test("the TLS handshake parks the coroutine: the hub runs others meanwhile, and cancelling it closes the socket")
    func stalledHandshakeParks() async throws {
        let (outcome, left) = try await onHub { () throws -> (String, Int) in
            let listener = try TCPListener.bind(port: 0)
            let port = listener.localAddress!.port
            let accepted = Box<TCPConnection?>(nil)
            let handshakeBytes = Box(0)
            // A server that greets offering TLS, then reads and never answers the handshake.
            let server = try spawn {
                let connection = try listener.accept()
                accepted.value = connection
                try connection.write(mysqlGreetingOfferingTLS())
                while true {
                    let bytes = try connection.read(upTo: 4096, timeout: .seconds(30))
                    if bytes.isEmpty { break }
                    handshakeBytes.value += bytes.count
                }
            }
            let connecting = try spawn { () -> String in
                var configuration = MySQLConfiguration(port: port, user: "weave", password: "x", connectTimeout: nil)
                configuration.tls = .unverified()
                do {
                    _ = try withTimeout(.seconds(60)) { try MySQLConnection.connect(configuration) }
                    return "connected"
                } catch is CancellationError {
                    return "cancelled"
                } catch {
                    return "\(error)"
                }
            }
            // The SSL request packet (36 bytes) and then a ClientHello follow the greeting.
            try withTimeout(.seconds(30)) {
                while handshakeBytes.value <= 36 { try Coroutine.sleep(for: .milliseconds(1)) }
            }
            for _ in 0..<3 { try Coroutine.sleep(for: .milliseconds(5)) }
            connecting.cancel()
            let outcome = try connecting.join()
            let left = socketsConnected(toPort: port)
            server.cancel()
            _ = try? server.join()
            accepted.value?.close()
            listener.close()
            return (outcome, left)
        }
        #expect(outcome == "cancelled")
        // The client's socket is closed (the server's accepted end is counted by local port, not here).
        #expect(left == 0)
    }
}

/// A row of `SHOW STATUS`.
private struct StatusRow: Decodable {
    let Variable_name: String
    let Value: String
}

/// A MariaDB protocol-10 greeting offering `CLIENT_SSL`, as packet 0.
private func mysqlGreetingOfferingTLS() -> [UInt8] {
    func little16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    // LONG_PASSWORD, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, SSL, TRANSACTIONS,
    // SECURE_CONNECTION; then MULTI_STATEMENTS, MULTI_RESULTS, PLUGIN_AUTH.
    let lower: UInt16 = 0x0001 | 0x0004 | 0x0008 | 0x0200 | 0x0800 | 0x2000 | 0x8000
    let upper: UInt16 = 0x0001 | 0x0002 | 0x0008
    var payload: [UInt8] = [10] + Array("5.5.5-10.11.0-MariaDB".utf8) + [0]
    payload += [1, 0, 0, 0]                          // connection id
    payload += Array("abcdefgh".utf8) + [0]          // scramble, first part
    payload += little16(lower) + [45] + little16(0x0002) + little16(upper)
    payload += [21] + [UInt8](repeating: 0, count: 10)
    payload += Array("ijklmnopqrst".utf8) + [0]      // scramble, second part
    payload += Array("mysql_native_password".utf8) + [0]
    return [UInt8(payload.count & 0xff), UInt8((payload.count >> 8) & 0xff), 0, 0] + payload
}
