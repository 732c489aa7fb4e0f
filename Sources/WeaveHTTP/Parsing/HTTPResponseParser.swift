import HTTPTypes

/// A response head as parsed: the swift-http-types response and what HTTP/1.1 adds around it.
package struct HTTPResponseHead {
    package var response: HTTPResponse
    package var version: HTTPVersion
    /// How the body is delimited; depends on the request's method as well as the response.
    package var framing: HTTPBodyFraming
    /// Whether the connection may carry another request after this response.
    package var keepAlive: Bool
    /// The head's length in bytes, including the empty line.
    package var length: Int
}

/// A strict RFC 9112 response-head parser, for clients: feed it the bytes received so far
/// (from the first byte of the response) until it returns a head.
///
/// A 1xx response is returned as any other (its framing is ``HTTPBodyFraming/none``); the
/// client reads the final response after it.
package struct HTTPResponseParser {
    package var scanner: HTTPHeadScanner

    package init(maxHeadBytes: Int = 64 * 1024, maxFieldCount: Int = 200) {
        scanner = HTTPHeadScanner(maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
    }

    /// Forgets a partly received head.
    package mutating func reset() { scanner.reset() }

    /// Parses the head at the start of `bytes`, answering a request with `requestMethod`
    /// (HEAD and CONNECT change the framing), or returns nil when it is not complete yet.
    /// Throws ``HTTPParseError``.
    package mutating func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: HTTPRequest.Method) throws(HTTPParseError) -> HTTPResponseHead? {
        guard let length = try scanner.findEnd(bytes) else { return nil }
        let head = bytes
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]
        let lineEnd = HTTPHeadScanner.lineEnd(head, from: 0, headLength: length)
        guard lineEnd >= 12, head[8] == HTTPBytes.space else { throw HTTPParseError(.invalidStatusLine, at: 0) }
        let version = try HTTPRequestParser.parseVersion(head, 0..<8)
        var code = 0
        for index in 9..<12 {
            let byte = head[index]
            guard byte >= 0x30 && byte <= 0x39 else { throw HTTPParseError(.invalidStatusLine, at: index) }
            code = code * 10 + Int(byte - 0x30)
        }
        guard code >= 100 else { throw HTTPParseError(.invalidStatusLine, at: 9) }
        var reason = ""
        if lineEnd > 12 {
            // The SP before the reason is required; a bare "HTTP/1.1 200" line is tolerated.
            guard head[12] == HTTPBytes.space else { throw HTTPParseError(.invalidStatusLine, at: 12) }
            for index in 13..<lineEnd where !HTTPBytes.isFieldValue(head[index]) {
                throw HTTPParseError(.invalidStatusLine, at: index)
            }
            // ISO Latin-1 on the wire.
            var scalars = String.UnicodeScalarView()
            for index in 13..<lineEnd { scalars.append(Unicode.Scalar(head[index])) }
            reason = String(scalars)
        }

        try scanner.scanFields(head, from: lineEnd + 2, headLength: length)
        let semantics = scanner.semantics

        let framing: HTTPBodyFraming
        if requestMethod == .head || (100..<200).contains(code) || code == 204 || code == 304
            || (requestMethod == .connect && (200..<300).contains(code)) {
            framing = .none
        } else if semantics.hasTransferEncoding {
            if version == .http1_0 { throw HTTPParseError(.transferEncodingInHTTP10, at: 0) }
            if semantics.contentLength != nil { throw HTTPParseError(.contentLengthWithTransferEncoding, at: 0) }
            if semantics.chunkedIsLast {
                if semantics.hasOtherCoding { throw HTTPParseError(.unsupportedTransferCoding, at: 0) }
                framing = .chunked
            } else {
                framing = .untilClose
            }
        } else if let contentLength = semantics.contentLength {
            framing = contentLength > 0 ? .length(contentLength) : .none
        } else {
            framing = .untilClose
        }

        var headerFields = HTTPFields()
        headerFields.reserveCapacity(scanner.fields.count)
        for field in scanner.fields { headerFields.append(HTTPHeadScanner.makeField(head, field)) }
        let response = HTTPResponse(status: HTTPResponse.Status(code: code, reasonPhrase: reason), headerFields: headerFields)
        var keepAlive = version == .http1_1 ? !semantics.connectionClose : (semantics.connectionKeepAlive && !semantics.connectionClose)
        if framing == .untilClose { keepAlive = false }
        return HTTPResponseHead(response: response, version: version, framing: framing, keepAlive: keepAlive, length: length)
    }
}
