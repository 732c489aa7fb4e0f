import Testing
import Weave
@testable import WeaveMySQL
import WeaveTestSupport

/// One row of the `people` tables the tests create.
struct Person: Decodable, Equatable, Sendable {
    let id: Int
    let name: String
    let nickname: String?
    let photo: [UInt8]?
    let score: Double
    let born: String?
}

@Suite("MySQLConnection against a real MariaDB server")
struct MySQLConnectionTests {
    @Test("connect logs in; a wrong password is MySQLError 1045 (28000); no such host or port is connectionLost")
    func connectAndBadPassword() async throws {
        let (version, user, error, unreachable) = try await onHub { () throws -> (String, String, MySQLError?, [String]) in
            let configuration = try TestServer.configuration()
            let connection = try MySQLConnection.connect(
                host: configuration.host, port: configuration.port, user: configuration.user,
                password: configuration.password, database: configuration.database, timeout: .seconds(20))
            defer { connection.close() }
            let row = try connection.query("SELECT VERSION() AS version, CURRENT_USER() AS user")[0]
            var refused: MySQLError?
            var unreachable: [String] = []
            do {
                _ = try MySQLConnection.connect(
                    host: configuration.host, port: configuration.port, user: configuration.user,
                    password: "wrong", timeout: .seconds(20))
            } catch let error as MySQLError {
                refused = error
            }
            for (host, port) in [("no-such-host.invalid", configuration.port), ("127.0.0.1", 1)] {
                do {
                    _ = try MySQLConnection.connect(host: host, port: port, user: "weave", timeout: .seconds(20))
                } catch let error as MySQLError {
                    unreachable.append("\(error.code) \(error.number)")
                }
            }
            return (row["version"]?.description ?? "", row["user"]?.description ?? "", refused, unreachable)
        }
        #expect(version.contains("MariaDB"))
        #expect(user.hasPrefix("'weave@"))
        #expect(error?.code == .server)
        #expect(error?.number == 1045)
        #expect(error?.sqlState == "28000")
        #expect(error?.description.contains("Access denied") == true)
        #expect(unreachable == ["connectionLost 2005", "connectionLost 2002"])
    }

    @Test("create a table, insert with parameters (NULL, unicode, binary), select into structs")
    func insertAndSelect() async throws {
        let (inserted, people, values, count) = try await onHub {
            () throws -> ([MySQLExecutionResult], [Person], [MySQLValue?], Int) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            let table = uniqueTableName("people")
            try connection.execute("""
                CREATE TABLE \(table) (
                    id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, nickname VARCHAR(100),
                    photo BLOB, score DOUBLE NOT NULL, born DATE, big BIGINT UNSIGNED)
                """)
            defer { _ = try? connection.execute("DROP TABLE \(table)") }
            let binary: [UInt8] = [0, 1, 2, 255, 0, 39, 92]
            let insert = "INSERT INTO \(table) (name, nickname, photo, score, born, big) VALUES (?, ?, ?, ?, ?, ?)"
            let inserted = [
                try connection.execute(insert, "Ada", nil, .bytes(binary), 9.5, "1815-12-10", .uint(UInt64.max)),
                try connection.execute(insert, "Zoë 李 🚀", "z'o\"e", nil, -1.25, nil, 7),
            ]
            let people = try connection.query(
                Person.self, "SELECT id, name, nickname, photo, score, born FROM \(table) WHERE score > ? ORDER BY id", -100)
            // The text protocol (no parameters) gives the same values.
            let row = try connection.query("SELECT * FROM \(table) ORDER BY id")[0]
            let count = try connection.query(Int.self, "SELECT COUNT(*) FROM \(table)")[0]
            return (inserted, people, [row["id"], row["photo"], row["score"], row["big"], row["nickname"], row["none"]], count)
        }
        #expect(inserted.map(\.affectedRows) == [1, 1])
        #expect(inserted.map(\.lastInsertID) == [1, 2])
        #expect(people == [
            Person(id: 1, name: "Ada", nickname: nil, photo: [0, 1, 2, 255, 0, 39, 92], score: 9.5, born: "1815-12-10"),
            Person(id: 2, name: "Zoë 李 🚀", nickname: "z'o\"e", photo: nil, score: -1.25, born: nil),
        ])
        #expect(values == [.int(1), .bytes([0, 1, 2, 255, 0, 39, 92]), .double(9.5), .uint(UInt64.max), .null, nil])
        #expect(count == 2)
    }

    @Test("a transaction that throws is rolled back; one that returns is committed")
    func transactions() async throws {
        let (rolledBack, committed, names) = try await onHub { () throws -> (Bool, Int, [String]) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            let table = uniqueTableName("accounts")
            try connection.execute("CREATE TABLE \(table) (name VARCHAR(20) PRIMARY KEY, balance INT) ENGINE=InnoDB")
            defer { _ = try? connection.execute("DROP TABLE \(table)") }
            struct Refused: Error {}
            var rolledBack = false
            do {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO \(table) VALUES (?, ?)", "alice", 100)
                    throw Refused()
                }
            } catch is Refused {
                rolledBack = true
            }
            let committed = try connection.transaction { connection in
                try connection.execute("INSERT INTO \(table) VALUES (?, ?)", "bob", 50)
                return Int(try connection.execute("UPDATE \(table) SET balance = balance + ?", 1).affectedRows)
            }
            let names = try connection.query(String.self, "SELECT name FROM \(table) ORDER BY name")
            return (rolledBack, committed, names)
        }
        #expect(rolledBack)
        #expect(committed == 1)
        #expect(names == ["bob"])
    }

    @Test("a syntax error is MySQLError 1064 with SQL state 42000, and the connection stays usable")
    func syntaxError() async throws {
        let (textError, preparedError, decodeError, after) = try await onHub {
            () throws -> (MySQLError?, MySQLError?, MySQLError?, Int) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            func failure(_ body: () throws -> Void) -> MySQLError? {
                do { try body() } catch let error as MySQLError { return error } catch {}
                return nil
            }
            let textError = failure { try connection.query("SELEKT 1") }
            let preparedError = failure { try connection.query("SELEKT ?", 1) }
            let decodeError = failure { _ = try connection.query(Person.self, "SELECT 1 AS id") }
            let after = try connection.query(Int.self, "SELECT ? + 1", 41)[0]
            return (textError, preparedError, decodeError, after)
        }
        for error in [textError, preparedError] {
            #expect(error?.code == .server)
            #expect(error?.number == 1064)
            #expect(error?.sqlState == "42000")
            #expect(error?.operation.contains("SELEKT") == true)
        }
        #expect(decodeError?.code == .decoding)
        #expect(decodeError?.message == "no column named 'name'")
        #expect(after == 42)
    }

    @Test("a query timeout and a cancellation discard the connection and close its socket")
    func timeoutAndCancellationDiscard() async throws {
        let outcome = try await onHub { () throws -> [String] in
            let configuration = try TestServer.configuration()
            var outcome: [String] = []
            let slow = try MySQLConnection.connect(configuration)
            let slowSocket = socketInode(slow.socket)
            do {
                try withTimeout(.milliseconds(300)) { _ = try slow.query("SELECT SLEEP(20)") }
                outcome.append("no timeout")
            } catch is TimeoutError {
                outcome.append("timeout")
            }
            outcome.append(slow.isOpen ? "open" : "discarded")
            do { try slow.query("SELECT 1") } catch let error as MySQLError { outcome.append("\(error.code)") }
            outcome.append(openSocketInodes().contains(slowSocket ?? "none") ? "socket open" : "socket closed")

            let cancelled = try MySQLConnection.connect(configuration)
            let cancelledSocket = socketInode(cancelled.socket)
            let worker = try spawn { () throws -> Int in try cancelled.query(Int.self, "SELECT SLEEP(20)")[0] }
            try Coroutine.sleep(for: .milliseconds(100))
            worker.cancel()
            do { _ = try worker.join() } catch is CancellationError { outcome.append("cancelled") }
            outcome.append(cancelled.isOpen ? "open" : "discarded")
            outcome.append(openSocketInodes().contains(cancelledSocket ?? "none") ? "socket open" : "socket closed")

            // The pool opens a fresh connection in place of one a timeout discarded.
            let pool = MySQLPool(configuration: configuration, maximumConnections: 1)
            defer { pool.close() }
            do {
                _ = try withTimeout(.milliseconds(200)) { try pool.query("SELECT SLEEP(20)") }
            } catch is TimeoutError {
                outcome.append("pool timeout")
            }
            outcome.append("idle \(pool.idleConnections)")
            outcome.append("\(try pool.query(Int.self, "SELECT 7")[0])")
            return outcome
        }
        #expect(outcome == [
            "timeout", "discarded", "closed", "socket closed",
            "cancelled", "discarded", "socket closed",
            "pool timeout", "idle 0", "7",
        ])
    }
}
