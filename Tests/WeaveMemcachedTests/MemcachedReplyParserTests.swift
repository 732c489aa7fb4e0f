import Testing
@testable import WeaveMemcached

@Suite("MemcachedReplyParser")
struct MemcachedReplyParserTests {
    let server = try! MemcachedServer(host: "127.0.0.1", port: 11211)

    func parse(_ bytes: [UInt8], _ mode: MemcachedReplyParser.ValueMode = .bytes) throws -> MemcachedReplyParser.Outcome {
        try bytes.withUnsafeBytes {
            try MemcachedReplyParser.parse($0, valueMode: mode, maximumValueSize: 1024, server: server, command: "mg")
        }
    }

    @Test("valid replies parse, with their flags, and say how many bytes they took")
    func valid() throws {
        guard case .complete(let reply, let consumed) = try parse(Array("VA 3 c9 f7 O12 t-1 kabc\r\nxyz\r\nHD\r\n".utf8)) else {
            Issue.record("incomplete")
            return
        }
        #expect(reply.status == .value && reply.value == Array("xyz".utf8) && reply.cas == 9 && reply.clientFlags == 7 && reply.opaque == 12)
        #expect(consumed == 30)
        guard case .complete(let counter, _) = try parse(Array("VA 2\r\n42\r\n".utf8), .number) else {
            Issue.record("incomplete")
            return
        }
        #expect(counter.number == 42)
    }

    @Test("a reply cut anywhere asks for more bytes, never more than it needs")
    func incomplete() throws {
        let full = Array("VA 5 c1\r\nhello\r\n".utf8)
        for cut in 0..<full.count {
            guard case .incomplete(let needed) = try parse(Array(full[..<cut])) else {
                Issue.record("complete at \(cut) bytes")
                continue
            }
            #expect(needed > cut && needed <= full.count)
        }
    }

    @Test("random corruption of valid replies is a typed error or a reply, never a crash")
    func corruption() {
        let samples = ["VA 5 c1 f2\r\nhello\r\n", "HD c77\r\n", "EN\r\n", "NS\r\n", "MN\r\n", "VA 2\r\n10\r\n",
                       "SERVER_ERROR out of memory\r\n", "CLIENT_ERROR bad\r\n", "ERROR\r\n"].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        var outcomes = [0, 0, 0]
        for round in 0..<20_000 {
            var bytes = samples[round % samples.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            for mode in [MemcachedReplyParser.ValueMode.bytes, .number] {
                do {
                    switch try parse(bytes, mode) {
                    case .complete(_, let consumed):
                        #expect(consumed <= bytes.count)
                        outcomes[0] += 1
                    case .incomplete(let needed):
                        #expect(needed > bytes.count)
                        outcomes[1] += 1
                    }
                } catch let error as MemcachedError {
                    #expect([.protocolError, .serverError, .clientError].contains(error.code))
                    outcomes[2] += 1
                } catch {
                    Issue.record("untyped error \(error)")
                }
            }
        }
        #expect(outcomes.allSatisfy { $0 > 0 }, "every outcome seen: \(outcomes)")
    }

    @Test("lengths over the limit, numbers that overflow and bare \\n are protocol errors")
    func strict() {
        for text in ["VA 1025\r\n", "VA 1\r\nx\nZ", "HD c18446744073709551616\r\n", "HD\n", "HD f4294967296\r\n", "VA 1 \r\nx\r\n", "XX\r\n", "hd\r\n"] {
            #expect(throws: MemcachedError.self, "\(text)") { try parse(Array(text.utf8)) }
        }
        #expect(throws: MemcachedError.self) { try parse(Array("VA 2\r\n4x\r\n".utf8), .number) }
        #expect(throws: MemcachedError.self) { try parse([UInt8](repeating: 65, count: 3000)) }
    }
}
