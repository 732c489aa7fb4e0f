import Testing
import Weave
import WeaveMySQL
import WeaveTestSupport

/// Each result as `rows: [[column: value]]` or `status affected/id`, for comparing.
private func summary(_ results: [MySQLResult]) -> [String] {
    results.map { result in
        guard result.hasResultSet else {
            return "status \(result.execution.affectedRows)/\(result.execution.lastInsertID)"
        }
        let rows = result.rows.map { row in
            row.columnNames.enumerated().map { "\($1)=\(row[$0])" }.joined(separator: ",")
        }
        return "rows \(result.columnNames.joined(separator: ",")): \(rows.joined(separator: " | "))"
    }
}

@Suite("Multiple result sets (CALL, several statements) against a real MariaDB server")
struct MySQLResultsTests {
    @Test("a CALL's result sets and final status, through text and prepared statements; query keeps the first and the connection in step")
    func procedureResults() async throws {
        let (text, prepared, preparedAgain, firstOnly, after) = try await onHub {
            () throws -> ([String], [String], [String], [String], Int) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            let procedure = uniqueTableName("two_results")
            try connection.execute("""
                CREATE PROCEDURE \(procedure)(IN n INT)
                BEGIN
                  SELECT n AS a;
                  SELECT n + 1 AS b, 'x' AS c UNION ALL SELECT n + 2, 'y';
                END
                """)
            defer { _ = try? connection.execute("DROP PROCEDURE \(procedure)") }
            let text = summary(try connection.queryResults("CALL \(procedure)(3)"))
            let prepared = summary(try connection.queryResults("CALL \(procedure)(?)", 10))
            // The kept statement runs again: every result of the first run was read.
            let preparedAgain = summary(try connection.queryResults("CALL \(procedure)(?)", 20))
            let firstOnly = try connection.query("CALL \(procedure)(5)").map { "\($0["a"]!)" }
            let after = try connection.query(Int.self, "SELECT 42")[0]
            // Through a pool too.
            let pool = MySQLPool(configuration: try TestServer.configuration(), maximumConnections: 1)
            defer { pool.close() }
            guard try pool.queryResults("CALL \(procedure)(?)", 1).count == 3 else { return ([], [], [], [], 0) }
            return (text, prepared, preparedAgain, firstOnly, after)
        }
        #expect(text == ["rows a: a=3", "rows b,c: b=4,c='x' | b=5,c='y'", "status 0/0"])
        #expect(prepared == ["rows a: a=10", "rows b,c: b=11,c='x' | b=12,c='y'", "status 0/0"])
        #expect(preparedAgain == ["rows a: a=20", "rows b,c: b=21,c='x' | b=22,c='y'", "status 0/0"])
        #expect(firstOnly == ["5"])
        #expect(after == 42)
    }

    @Test("several statements in one query with allowsMultipleStatements: a result each; refused without; a later failure throws and leaves the connection usable")
    func multipleStatements() async throws {
        let (results, refused, laterFailure, after) = try await onHub {
            () throws -> ([String], UInt32?, UInt32?, Int) in
            var configuration = try TestServer.configuration()
            configuration.allowsMultipleStatements = true
            let connection = try MySQLConnection.connect(configuration)
            defer { connection.close() }
            let table = uniqueTableName("multi")
            try connection.execute("CREATE TABLE \(table) (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
            defer { _ = try? connection.execute("DROP TABLE \(table)") }
            let results = summary(try connection.queryResults(
                "INSERT INTO \(table) (v) VALUES (7), (8); SELECT v FROM \(table) ORDER BY id; UPDATE \(table) SET v = v + 1"))
            var laterFailure: UInt32?
            do {
                try connection.queryResults("SELECT 1; SELECT * FROM \(table)_missing; SELECT 2")
            } catch let error as MySQLError {
                laterFailure = error.number
            }
            let after = try connection.query(Int.self, "SELECT 5")[0]

            let strict = try MySQLConnection.connect(try TestServer.configuration())
            defer { strict.close() }
            var refused: UInt32?
            do { try strict.queryResults("SELECT 1; SELECT 2") } catch let error as MySQLError { refused = error.number }
            return (results, refused, laterFailure, after)
        }
        #expect(results == ["status 2/1", "rows v: v=7 | v=8", "status 2/0"])
        #expect(refused == 1064)
        #expect(laterFailure == 1146)
        #expect(after == 5)
    }
}
