import Testing
@testable import WeaveHTTP

/// Decodes `bytes` fed in pieces of at most `piece` bytes; returns the body and the bytes
/// consumed, or throws. A caller keeps unconsumed bytes and appends the next piece.
private func decode(_ bytes: [UInt8], piece: Int, decoder: inout HTTPChunkedDecoder) throws -> (body: [UInt8], consumed: Int, ended: Bool) {
    var body: [UInt8] = []
    var pending: [UInt8] = []
    var fed = 0
    var consumedTotal = 0
    while true {
        let step = try pending.withUnsafeBytes { (buffer) throws -> HTTPChunkedDecoder.Step in try decoder.next(buffer) }
        switch step {
        case .data(let offset, let count):
            body += pending[offset..<(offset + count)]
            pending.removeFirst(offset + count)
            consumedTotal += offset + count
        case .needMore(let consumed):
            pending.removeFirst(consumed)
            consumedTotal += consumed
            guard fed < bytes.count else { return (body, consumedTotal, false) }
            let next = min(bytes.count, fed + piece)
            pending += bytes[fed..<next]
            fed = next
        case .end(let consumed):
            consumedTotal += consumed
            return (body, consumedTotal, true)
        }
    }
}

private func decodeError(_ text: String) -> HTTPParseError.Code? {
    var decoder = HTTPChunkedDecoder(maxLineBytes: 64, maxTrailerBytes: 64)
    do {
        let result = try decode(Array(text.utf8), piece: 1 << 20, decoder: &decoder)
        return result.ended ? nil : nil
    } catch {
        return (error as? HTTPParseError)?.code
    }
}

@Suite("HTTP chunked coding")
struct HTTPChunkedTests {
    @Test("a chunked body with extensions and trailers decodes the same split at every byte boundary")
    func everySplit() throws {
        let text = "5;name=value\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n0;last\r\nX-Trailer: t\r\nY: u\r\n\r\nNEXT"
        let bytes = Array(text.utf8)
        let bodyLength = bytes.count - 4
        for piece in 1...bytes.count {
            var decoder = HTTPChunkedDecoder()
            let result = try decode(bytes, piece: piece, decoder: &decoder)
            #expect(String(decoding: result.body, as: UTF8.self) == "hello 0123456789", "piece \(piece)")
            #expect(result.ended)
            #expect(result.consumed == bodyLength, "piece \(piece)")
            #expect(decoder.isDone)
        }
    }

    static let malformed: [(String, String, HTTPParseError.Code)] = [
        ("no size", "\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("not hex", "g\r\n", .invalidChunkSize),
        ("size overflow", "1000000000000000000\r\n", .chunkSizeTooLarge),
        ("data without CRLF", "5\r\nhelloX\r\n0\r\n\r\n", .invalidChunkFraming),
        ("bare LF after size", "5\nhello\r\n", .invalidChunkFraming),
        ("control in extension", "5;a\u{01}\r\nhello\r\n", .invalidChunkFraming),
        ("long extension", "5;" + String(repeating: "x", count: 100) + "\r\n", .chunkLineTooLong),
        ("trailer without colon", "0\r\nBad\r\n\r\n", .invalidTrailer),
        ("trailer obs-fold", "0\r\n folded\r\n\r\n", .invalidTrailer),
        ("long trailers", "0\r\nA: " + String(repeating: "x", count: 100) + "\r\n\r\n", .trailersTooLarge),
        ("negative size", "-5\r\n", .invalidChunkSize),
    ]

    @Test("malformed chunked bodies are rejected with the expected error", arguments: 0..<malformed.count)
    func malformedBodies(index: Int) {
        let (name, text, expected) = Self.malformed[index]
        #expect(decodeError(text) == expected, "\(name)")
    }

    @Test("the encoder's output decodes back to the input")
    func roundTrip() throws {
        var encoded: [UInt8] = []
        let pieces: [[UInt8]] = [Array("a".utf8), [], Array(repeating: 0x41, count: 255), Array(repeating: 0x42, count: 4096), Array(repeating: 0x43, count: 70_000)]
        for piece in pieces { piece.withUnsafeBytes { HTTPChunkedEncoder.appendChunk($0, to: &encoded) } }
        HTTPChunkedEncoder.appendLastChunk(to: &encoded)
        #expect(encoded.starts(with: Array("1\r\na\r\nff\r\n".utf8)))
        var decoder = HTTPChunkedDecoder()
        let result = try decode(encoded, piece: 1000, decoder: &decoder)
        #expect(result.body == pieces.flatMap { $0 })
        #expect(result.ended)
        #expect(result.consumed == encoded.count)
    }
}
