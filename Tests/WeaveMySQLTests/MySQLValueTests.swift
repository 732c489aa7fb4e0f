import Testing
import WeaveMySQL

@Suite("MySQLValue")
struct MySQLValueTests {
    @Test("initializers pick the case: integers by range, text, bytes, booleans, optionals")
    func initializers() {
        #expect(MySQLValue(42) == .int(42))
        #expect(MySQLValue(Int8(-3)) == .int(-3))
        #expect(MySQLValue(UInt64.max) == .uint(UInt64.max))
        #expect(MySQLValue(UInt64(7)) == .int(7))
        #expect(MySQLValue(1.5) == .double(1.5))
        #expect(MySQLValue("é") == .string("é"))
        #expect(MySQLValue([UInt8]([0, 255])) == .bytes([0, 255]))
        #expect(MySQLValue(true) == .int(1))
        #expect(MySQLValue.optional(nil) == .null)
        let literals: [MySQLValue] = [nil, 1, 2.5, "x", false]
        #expect(literals == [.null, .int(1), .double(2.5), .string("x"), .int(0)])
    }
}
