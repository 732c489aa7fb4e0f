import HTTPTypes
import Testing
@testable import WeaveHTTP

/// Parses `text` whole with a fresh parser.
private func parseRequest(_ text: String, maxHeadBytes: Int = 16 * 1024, maxFieldCount: Int = 100) throws -> HTTPRequestHead? {
    var parser = HTTPRequestParser(maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { (buffer) throws -> HTTPRequestHead? in try parser.parse(buffer) }
}

/// The error parsing `text` throws, or nil.
private func parseError(_ text: String, maxHeadBytes: Int = 16 * 1024, maxFieldCount: Int = 100) -> HTTPParseError.Code? {
    do {
        _ = try parseRequest(text, maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
        return nil
    } catch {
        return (error as? HTTPParseError)?.code
    }
}

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    static let malformed: [(String, String, HTTPParseError.Code)] = [
        ("space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", .invalidRequestLine),
        ("two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("tab in target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("control in target", "GET /a\u{01}b HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("non-ASCII target", "GET /é HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidMethod),
        ("method with a separator", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", .invalidMethod),
        ("no version", "GET /\r\nHost: x\r\n\r\n", .invalidRequestLine),
        ("lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n", .invalidVersion),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", .unsupportedVersion),
        ("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", .unsupportedVersion),
        ("version with trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", .invalidRequestLine),
        ("bare LF ending the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", .bareLineFeed),
        ("bare LF between fields", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", .bareLineFeed),
        ("bare CR in a value", "GET / HTTP/1.1\r\nHost: x\rA: b\r\n\r\n", .invalidFieldValue),
        ("NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\u{00}c\r\n\r\n", .invalidFieldValue),
        ("DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\u{7F}\r\n\r\n", .invalidFieldValue),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", .obsoleteLineFolding),
        ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", .invalidFieldName),
        ("empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", .invalidFieldName),
        ("field without colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", .invalidFieldName),
        ("separator in field name", "GET / HTTP/1.1\r\nHost: x\r\nA@B: v\r\n\r\n", .invalidFieldName),
        ("missing Host in 1.1", "GET / HTTP/1.1\r\nA: b\r\n\r\n", .missingHost),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .multipleHosts),
        ("Content-Length not a number", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", .invalidContentLength),
        ("negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("empty Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", .invalidContentLength),
        ("Content-Length overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidContentLength),
        ("differing duplicate Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .conflictingContentLength),
        ("differing Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", .conflictingContentLength),
        ("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .transferEncodingNotChunked),
        ("Transfer-Encoding gzip only", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", .transferEncodingNotChunked),
        ("chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingNotChunked),
        ("unknown coding before chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding),
        ("chunked with a suffix", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n", .transferEncodingNotChunked),
        ("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("asterisk for GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("absolute form without authority", "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
        ("CONNECT with a path", "CONNECT /a HTTP/1.1\r\nHost: x\r\n\r\n", .invalidTarget),
    ]

    @Test("malformed request heads are rejected with the expected error", arguments: 0..<malformed.count)
    func malformedHeads(index: Int) {
        let (name, text, expected) = Self.malformed[index]
        #expect(parseError(text) == expected, "\(name)")
    }

    @Test("a head past the size limit is rejected with headTooLarge, complete or not")
    func headTooLarge() {
        let long = "GET / HTTP/1.1\r\nHost: x\r\nA: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(parseError(long, maxHeadBytes: 100) == .headTooLarge)
        #expect(parseError(String(long.prefix(150)), maxHeadBytes: 100) == .headTooLarge)
        #expect(parseError(long, maxHeadBytes: 1000) == nil)
        let many = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "A: b\r\n", count: 5) + "\r\n"
        #expect(parseError(many, maxFieldCount: 5) == .tooManyFields)
        #expect(parseError(many, maxFieldCount: 6) == nil)
        let headTooLarge = HTTPParseError(.headTooLarge, at: 0)
        #expect(headTooLarge.status == 431)
        #expect(HTTPParseError(.unsupportedTransferCoding, at: 0).status == 501)
        #expect(HTTPParseError(.obsoleteLineFolding, at: 0).status == 400)
    }

    @Test("valid heads parse into method, target, authority, fields, framing and keep-alive")
    func validHeads() throws {
        let get = try #require(try parseRequest("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\nX-Pad: \t a b \t\r\n\r\n"))
        #expect(get.request.method == .get)
        #expect(get.request.path == "/index.html?q=1")
        #expect(get.request.authority == "example.com")
        #expect(get.request.scheme == nil)
        #expect(get.request.headerFields[.accept] == "*/*")
        #expect(get.request.headerFields[HTTPField.Name("X-Empty")!] == "")
        #expect(get.request.headerFields[HTTPField.Name("x-pad")!] == "a b")
        #expect(get.request.headerFields[HTTPField.Name("Host")!] == nil)  // moved to authority
        #expect(get.version == .http1_1)
        #expect(get.framing == .none)
        #expect(get.keepAlive)
        #expect(!get.expectsContinue)
        #expect(get.length == 90)

        let post = try #require(try parseRequest("POST /u HTTP/1.1\r\nhost: h\r\ncontent-length: 5, 5\r\nContent-Length: 5\r\nExpect: 100-Continue\r\nConnection: Keep-Alive, CLOSE\r\n\r\n"))
        #expect(post.framing == .length(5))
        #expect(post.expectsContinue)
        #expect(!post.keepAlive)

        let chunked = try #require(try parseRequest("PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"))
        #expect(chunked.framing == .chunked)
        #expect(chunked.request.method == .put)

        let old = try #require(try parseRequest("GET / HTTP/1.0\r\n\r\n"))
        #expect(old.version == .http1_0)
        #expect(!old.keepAlive)
        #expect(old.request.authority == nil)
        let oldKeepAlive = try #require(try parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
        #expect(oldKeepAlive.keepAlive)
        let oldContinue = try #require(try parseRequest("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"))
        #expect(!oldContinue.expectsContinue)

        let absolute = try #require(try parseRequest("GET http://Example.com:8080?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(absolute.request.scheme == "http")
        #expect(absolute.request.authority == "Example.com:8080")
        #expect(absolute.request.path == "/?x=1")

        let connect = try #require(try parseRequest("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(connect.request.method == .connect)
        #expect(connect.request.authority == "example.com:443")
        #expect(connect.request.path == nil)

        let options = try #require(try parseRequest("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(options.request.path == "*")

        let custom = try #require(try parseRequest("PROPFIND /d HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"))
        #expect(custom.request.method.rawValue == "PROPFIND")
        #expect(custom.framing == .none)

        // obs-text in a value is kept as bytes.
        let latin = try #require(try parseRequest("GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\u{E9}\r\n\r\n"))
        #expect(latin.request.headerFields[HTTPField.Name("x-latin")!] == "café")
    }

    @Test("an incomplete head asks for more; leading empty lines are skippable")
    func incomplete() throws {
        #expect(try parseRequest("GET / HTTP/1.1\r\nHost: x\r\n") == nil)
        #expect(try parseRequest("GET / HTTP/1.1\r\nHost: x\r\n\r") == nil)
        #expect(try parseRequest("") == nil)
        let bytes = Array("\r\n\r\nGET".utf8)
        #expect(bytes.withUnsafeBytes { HTTPHeadScanner.leadingEmptyLines($0) } == 4)
    }

    @Test("a head fed split at every byte boundary parses to the same request")
    func everySplit() throws {
        let text = "POST /upload?name=a%20b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello world"
        let bytes = Array(text.utf8)
        let whole = try #require(try parseRequest(text))
        for split in 0...bytes.count {
            var parser = HTTPRequestParser()
            // Grow the visible prefix in two steps: the part before the split, then all.
            var head: HTTPRequestHead?
            for end in [split, bytes.count] where head == nil {
                head = try bytes.withUnsafeBytes { (buffer) throws -> HTTPRequestHead? in
                    try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
                }
            }
            let parsed = try #require(head)
            #expect(parsed.request == whole.request)
            #expect(parsed.length == whole.length)
            #expect(parsed.framing == .length(11))
        }
        // Byte by byte: the parser resumes where it stopped and finds the end at the same place.
        var parser = HTTPRequestParser()
        var found: HTTPRequestHead?
        for end in 1...bytes.count where found == nil {
            found = try bytes.withUnsafeBytes { (buffer) throws -> HTTPRequestHead? in
                try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
            }
        }
        #expect(found?.length == whole.length)
    }

    @Test("malformed heads fail the same way fed byte by byte")
    func malformedByteByByte() {
        for (name, text, expected) in Self.malformed {
            let bytes = Array(text.utf8)
            var parser = HTTPRequestParser()
            var failure: HTTPParseError.Code?
            for end in 1...bytes.count where failure == nil {
                do {
                    _ = try bytes.withUnsafeBytes { (buffer) throws -> HTTPRequestHead? in
                        try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
                    }
                } catch {
                    failure = (error as? HTTPParseError)?.code
                }
            }
            #expect(failure == expected, "\(name)")
        }
    }
}
