import Testing
import Weave
@testable import WeaveMySQL
import WeaveTestSupport

@Suite("Prepared statements are kept per connection")
struct MySQLStatementCacheTests {
    @Test("a statement run again is reused; the cache is bounded; a changed table is still read right")
    func reuseAndBound() async throws {
        let (afterRepeats, afterMany, rows, widened, interrupted) = try await onHub {
            () throws -> (Int, Int, [Int], [String], [String]) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            var rows: [Int] = []
            for value in 1...3 { rows.append(try connection.query(Int.self, "SELECT ? * 2", .int(Int64(value)))[0]) }
            let afterRepeats = connection.statementCache.count
            for value in 0..<40 { _ = try connection.query("SELECT ? + \(value)", 1) }
            let afterMany = connection.statementCache.count

            let table = uniqueTableName("widen")
            try connection.execute("CREATE TABLE \(table) (id INT PRIMARY KEY, a VARCHAR(10))")
            defer { _ = try? connection.execute("DROP TABLE \(table)") }
            try connection.execute("INSERT INTO \(table) VALUES (?, ?)", 1, "x")
            let before = try connection.query("SELECT * FROM \(table) WHERE id = ?", 1)[0].columnNames
            try connection.execute("ALTER TABLE \(table) ADD COLUMN b VARCHAR(10) DEFAULT 'y'")
            let after = try connection.query("SELECT * FROM \(table) WHERE id = ?", 1)[0]
            let again = try connection.query(Int.self, "SELECT COUNT(*) FROM \(table) WHERE id = ?", 1)[0]
            let widened = before + after.columnNames + ["\(after["b"] ?? .null)", "\(again)"]

            // A timeout inside a prepared statement frees it with the discarded connection.
            let slow = try MySQLConnection.connect(try TestServer.configuration())
            _ = try slow.query("SELECT ? + 1", 1)
            var interrupted: [String] = []
            do {
                _ = try withTimeout(.milliseconds(200)) { try slow.query("SELECT SLEEP(?)", 20) }
            } catch is TimeoutError {
                interrupted.append("timeout")
            }
            interrupted.append(slow.isOpen ? "open" : "discarded")
            interrupted.append("cached \(slow.statementCache.count)")
            return (afterRepeats, afterMany, rows, widened, interrupted)
        }
        #expect(rows == [2, 4, 6])
        #expect(afterRepeats == 1)
        #expect(afterMany == StatementCache.capacity)
        #expect(widened == ["id", "a", "id", "a", "b", "'y'", "1"])
        #expect(interrupted == ["timeout", "discarded", "cached 0"])
    }
}
