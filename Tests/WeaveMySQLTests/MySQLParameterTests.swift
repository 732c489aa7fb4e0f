import Testing
import Weave
import WeaveMySQL
import WeaveTestSupport

/// Parameter `index` of the wide statement: an integer, text or NULL in turn.
private func wideValue(_ index: Int) -> MySQLValue {
    switch index % 3 {
    case 0: return .int(Int64(index))
    case 1: return .string("v\(index)")
    default: return .null
    }
}

@Suite("Parameters bound through the connection's reused bindings")
struct MySQLParameterTests {
    @Test("statements with more parameters and longer text than the last come back exact, and a short one after them too")
    func growingBindings() async throws {
        let (small, wide, long, again) = try await onHub { () throws -> ([MySQLValue], [MySQLValue], Int, [MySQLValue]) in
            let connection = try MySQLConnection.connect(try TestServer.configuration())
            defer { connection.close() }
            let small = try connection.query("SELECT ?, ?", 1, "a")[0]
            let values = (0..<40).map(wideValue)
            let placeholders = Array(repeating: "?", count: values.count).joined(separator: ", ")
            let wide = try connection.query("SELECT \(placeholders)", parameters: values)[0]
            let text = String(repeating: "é", count: 5000)
            let long = try connection.query(Int.self, "SELECT CHAR_LENGTH(?) + LENGTH(?)", .string(text), .bytes([1, 2, 3]))[0]
            let again = try connection.query("SELECT ?, ?, ?", .uint(UInt64.max), 2.5, .bytes([0, 255]))[0]
            return ((0..<2).map { small[$0] }, (0..<40).map { wide[$0] }, long, (0..<3).map { again[$0] })
        }
        let expectedSmall: [MySQLValue] = [.int(1), .string("a")]
        #expect(small == expectedSmall)
        #expect(wide == (0..<40).map(wideValue))
        #expect(long == 5003)
        let expectedAgain: [MySQLValue] = [.uint(UInt64.max), .double(2.5), .bytes([0, 255])]
        #expect(again == expectedAgain)
    }
}
