import Testing
@testable import WeaveRedis

@Suite("RESP parser")
struct RESPParserTests {
    private func parseAll(_ text: String) throws -> [RESPValue] {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { buffer in
            var parser = RESPParser(buffer)
            var values: [RESPValue] = []
            while let value = try parser.parse() { values.append(value) }
            #expect(parser.index == buffer.count, "bytes left unparsed")
            return values
        }
    }

    @Test("RESP2 types")
    func resp2() throws {
        let values = try parseAll("+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR bad"), .integer(-42), .bulkString(Array("he\r\no".utf8)),
            .bulkString([]), .null, .null, .array([.integer(1), .array([.bulkString([120])])]),
        ])
    }

    @Test("bulkAsText decodes a top-level bulk string as text, nothing nested, nothing else")
    func bulkAsText() throws {
        let bytes = Array("$5\r\nhe\r\no\r\n$-1\r\n*1\r\n$1\r\nx\r\n:3\r\n$21\r\nh\u{e9}llo, longer string\r\n".utf8)
        let values = try bytes.withUnsafeBytes { buffer in
            var parser = RESPParser(buffer)
            var values: [RESPValue] = []
            while let value = try parser.parse(bulkAsText: true) { values.append(value) }
            #expect(parser.index == buffer.count, "bytes left unparsed")
            return values
        }
        #expect(values == [
            .simpleString("he\r\no"), .null, .array([.bulkString([120])]), .integer(3), .simpleString("h\u{e9}llo, longer string"),
        ])
    }

    @Test("RESP3 types; attributes are dropped")
    func resp3() throws {
        let values = try parseAll("_\r\n,3.5\r\n,-inf\r\n#t\r\n#f\r\n(123456789012345678901234567890\r\n=7\r\ntxt:abc\r\n!3\r\nERR\r\n%1\r\n+k\r\n:1\r\n~1\r\n:2\r\n>2\r\n+message\r\n+x\r\n|1\r\n+ttl\r\n:3\r\n:9\r\n")
        #expect(values == [
            .null, .double(3.5), .double(-.infinity), .boolean(true), .boolean(false),
            .bigNumber("123456789012345678901234567890"), .verbatimString(format: "txt", text: "abc"), .error("ERR"),
            .map([RESPPair(key: .simpleString("k"), value: .integer(1))]), .set([.integer(2)]),
            .push([.simpleString("message"), .simpleString("x")]), .integer(9),
        ])
    }

    @Test("A reply cut anywhere is incomplete, never an error, and leaves the index where it was")
    func incomplete() throws {
        let whole = Array("*3\r\n$3\r\nfoo\r\n%1\r\n+a\r\n,1.5\r\n:7\r\n".utf8)
        for cut in 0..<whole.count {
            let prefix = Array(whole[..<cut])
            try prefix.withUnsafeBytes { buffer in
                var parser = RESPParser(buffer)
                let value = try parser.parse()
                #expect(value == nil, "cut at \(cut)")
                #expect(parser.index == 0)
            }
        }
        #expect(try parseAll(String(decoding: whole, as: UTF8.self)).count == 1)
    }

    @Test("Garbage is a typed protocol error", arguments: [
        "hello\r\n", ":12x\r\n", "$3\r\nabcd\r\n", "*1\n", ":99999999999999999999\r\n", "#x\r\n", ",abc\r\n",
        "$-5\r\n", "*-3\r\n", String(repeating: "*1\r\n", count: 100) + ":1\r\n", "=2\r\nab\r\n",
    ])
    func garbage(_ text: String) throws {
        let error = #expect(throws: RedisError.self) { try parseAll(text) }
        #expect(error?.code == .protocolError)
        #expect(error?.message.contains("malformed reply") == true)
    }

    @Test("A huge declared count with few bytes reserves nothing big and waits for more")
    func hugeCount() throws {
        let bytes = Array("*2000000000\r\n:1\r\n".utf8)
        try bytes.withUnsafeBytes { buffer in
            var parser = RESPParser(buffer)
            let value = try parser.parse()
            #expect(value == nil)
        }
    }

    @Test("The encoder writes commands as arrays of bulk strings")
    func encoder() {
        var encoder = RESPEncoder()
        encoder.beginCommand(argumentCount: 4)
        encoder.append("SET" as StaticString)
        encoder.append("k")
        encoder.append(-1234567890)
        encoder.append(Int.min)
        #expect(String(decoding: encoder.buffer, as: UTF8.self)
            == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\n-1234567890\r\n$20\r\n-9223372036854775808\r\n")
    }
}
