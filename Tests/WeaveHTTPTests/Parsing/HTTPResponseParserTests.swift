import HTTPTypes
import Testing
@testable import WeaveHTTP

private func parseResponse(_ text: String, method: HTTPRequest.Method = .get) throws -> HTTPResponseHead? {
    var parser = HTTPResponseParser()
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { (buffer) throws -> HTTPResponseHead? in
        try parser.parse(buffer, requestMethod: method)
    }
}

private func responseError(_ text: String, method: HTTPRequest.Method = .get) -> HTTPParseError.Code? {
    do {
        _ = try parseResponse(text, method: method)
        return nil
    } catch {
        return (error as? HTTPParseError)?.code
    }
}

@Suite("HTTP response parser")
struct HTTPResponseParserTests {
    static let malformed: [(String, String, HTTPParseError.Code)] = [
        ("short status line", "HTTP/1.1 20\r\n\r\n", .invalidStatusLine),
        ("letters in status", "HTTP/1.1 2x0 OK\r\n\r\n", .invalidStatusLine),
        ("status below 100", "HTTP/1.1 099 Odd\r\n\r\n", .invalidStatusLine),
        ("no space after code", "HTTP/1.1 200OK\r\n\r\n", .invalidStatusLine),
        ("control in reason", "HTTP/1.1 200 O\u{01}K\r\n\r\n", .invalidStatusLine),
        ("HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
        ("garbage version", "HTTX/1.1 200 OK\r\n\r\n", .invalidVersion),
        ("obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n", .obsoleteLineFolding),
        ("Content-Length with Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("differing Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .conflictingContentLength),
        ("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("gzip before chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding),
        ("bare LF", "HTTP/1.1 200 OK\nA: b\r\n\r\n", .bareLineFeed),
    ]

    @Test("malformed response heads are rejected with the expected error", arguments: 0..<malformed.count)
    func malformedHeads(index: Int) {
        let (name, text, expected) = Self.malformed[index]
        #expect(responseError(text) == expected, "\(name)")
    }

    @Test("framing follows the status, the request method and the fields")
    func framing() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")?.framing == .length(5))
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: .head)?.framing == HTTPBodyFraming.none)
        #expect(try parseResponse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")?.framing == HTTPBodyFraming.none)
        #expect(try parseResponse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing == HTTPBodyFraming.none)
        #expect(try parseResponse("HTTP/1.1 100 Continue\r\n\r\n")?.framing == HTTPBodyFraming.none)
        #expect(try parseResponse("HTTP/1.1 200 OK\r\n\r\n", method: .connect)?.framing == HTTPBodyFraming.none)
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing == .chunked)
        let untilClose = try #require(try parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"))
        #expect(untilClose.framing == .untilClose)
        #expect(!untilClose.keepAlive)
        let noLength = try #require(try parseResponse("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"))
        #expect(noLength.framing == .untilClose)
        #expect(!noLength.keepAlive)
    }

    @Test("a valid response parses into status, reason, fields and keep-alive")
    func valid() throws {
        let ok = try #require(try parseResponse("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"))
        #expect(ok.response.status.code == 404)
        #expect(ok.response.status.reasonPhrase == "Not Found")
        #expect(ok.response.headerFields[.contentType] == "text/plain")
        #expect(ok.keepAlive)
        #expect(ok.version == .http1_1)
        let bare = try #require(try parseResponse("HTTP/1.0 200\r\nContent-Length: 1\r\n\r\n"))
        #expect(bare.response.status.reasonPhrase == "")
        #expect(!bare.keepAlive)
        let latin = try #require(try parseResponse("HTTP/1.1 200 Tr\u{E8}s bien\r\nContent-Length: 1\r\n\r\n"))
        // UTF-8 "è" is two bytes, each a Latin-1 character on the wire.
        #expect(latin.response.status.reasonPhrase.unicodeScalars.count == 10)
    }

    @Test("a response head split at every byte boundary parses the same")
    func everySplit() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        let bytes = Array(text.utf8)
        let whole = try #require(try parseResponse(text))
        for split in 0...bytes.count {
            var parser = HTTPResponseParser()
            var head: HTTPResponseHead?
            for end in [split, bytes.count] where head == nil {
                head = try bytes.withUnsafeBytes { (buffer) throws -> HTTPResponseHead? in
                    try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end]), requestMethod: .get)
                }
            }
            let parsed = try #require(head)
            #expect(parsed.response == whole.response)
            #expect(parsed.length == whole.length)
            #expect(parsed.framing == .chunked)
        }
    }
}
