import FoundationEssentials
import Testing
import Weave
@testable import WeaveMySQL
import WeaveTestSupport

/// A row with every calendar column, decoded.
private struct Event: Decodable, Equatable, Sendable {
    let id: Int
    let day: Date
    let at: Date
    let stamp: Date?
    let length: Duration
}

@Suite("Dates and times: DATE, DATETIME, TIMESTAMP as Date, TIME as Duration")
struct MySQLTimeTests {
    @Test("the calendar arithmetic round-trips; text parses and prints as MySQL writes it")
    func conversions() {
        for days in stride(from: -800_000, through: 3_000_000, by: 997) {
            let civil = MySQLTime.civilFromDays(days)
            #expect(MySQLTime.daysFromCivil(year: civil.year, month: civil.month, day: civil.day) == days)
        }
        #expect(MySQLTime.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(MySQLTime.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        let leap = MySQLTime.date(parsing: Array("2024-02-29 23:59:58.5".utf8))
        #expect(leap == Date(timeIntervalSince1970: 1_709_251_198.5))
        #expect(leap.map(MySQLTime.text(of:)) == "2024-02-29 23:59:58.500000")
        #expect(MySQLTime.date(parsing: Array("1969-12-31".utf8)) == Date(timeIntervalSince1970: -86_400))
        #expect(MySQLTime.date(parsing: Array("0000-00-00 00:00:00".utf8)) == nil)
        #expect(MySQLTime.date(parsing: Array("2024-13-01".utf8)) == nil)
        #expect(MySQLTime.date(parsing: Array("2024-01-01 10:00".utf8)) == nil)
        #expect(MySQLTime.duration(parsing: Array("-838:59:59.000001".utf8))
            == .zero - (.seconds(838 * 3600 + 59 * 60 + 59) + .microseconds(1)))
        #expect(MySQLTime.text(of: Duration.seconds(30 * 3600 + 61)) == "30:01:01")
        #expect(MySQLValue(Date(timeIntervalSince1970: 0)).description == "1970-01-01 00:00:00")
    }

    @Test("dates and times bound as parameters come back equal, through text and prepared queries and into Decodable rows")
    func roundTrip() async throws {
        let at = Date(timeIntervalSince1970: 1_714_564_800.123456)  // 2024-05-01 12:00:00.123456 UTC
        let day = Date(timeIntervalSince1970: 1_714_521_600)  // 2024-05-01
        let lengths: [Duration] = [.seconds(30 * 3600 + 5) + .microseconds(250), .zero - .seconds(90)]
        let (textValues, preparedValues, events, now, nullStamp) = try await onHub {
            () throws -> ([MySQLValue], [MySQLValue], [Event], MySQLValue, MySQLValue) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            let table = uniqueTableName("events")
            try connection.execute("""
                CREATE TABLE \(table) (id INT PRIMARY KEY, day DATE, at DATETIME(6), stamp TIMESTAMP(6) NULL, length TIME(6))
                """)
            defer { _ = try? connection.execute("DROP TABLE \(table)") }
            for (id, length) in lengths.enumerated() {
                try connection.execute(
                    "INSERT INTO \(table) VALUES (?, ?, ?, ?, ?)", .int(Int64(id)), .date(at), .date(at),
                    id == 0 ? .date(at) : .null, .time(length))
            }
            let textRow = try connection.query("SELECT day, at, stamp, length FROM \(table) WHERE id = 0")[0]
            let preparedRow = try connection.query("SELECT day, at, stamp, length FROM \(table) WHERE id = ?", 0)[0]
            let events = try connection.query(Event.self, "SELECT * FROM \(table) ORDER BY id")
            // The session is in UTC, so the server's clock reads as the current instant.
            let now = try connection.query("SELECT UTC_TIMESTAMP() = NOW() AS same")[0]["same"]!
            let nullStamp = try connection.query("SELECT stamp FROM \(table) WHERE id = 1")[0][0]
            return ((0..<4).map { textRow[$0] }, (0..<4).map { preparedRow[$0] }, events, now, nullStamp)
        }
        let expected: [MySQLValue] = [.date(day), .date(at), .date(at), .time(lengths[0])]
        #expect(textValues == expected)
        #expect(preparedValues == expected)
        #expect(events == [
            Event(id: 0, day: day, at: at, stamp: at, length: lengths[0]),
            Event(id: 1, day: day, at: at, stamp: nil, length: lengths[1]),
        ])
        #expect(now == .int(1))
        #expect(nullStamp == .null)
    }

    @Test("a column that is no date decodes as a typed error naming it")
    func notADate() async throws {
        let error = try await onHub { () throws -> MySQLError? in
            struct Row: Decodable { let when: Date }
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            do { _ = try connection.query(Row.self, "SELECT 'soon' AS `when`") } catch let error as MySQLError { return error }
            return nil
        }
        #expect(error?.code == .decoding)
        #expect(error?.message.contains("when") == true)
    }
}
