import HTTPTypes

/// A request head as parsed: the swift-http-types request and what HTTP/1.1 adds around it.
package struct HTTPRequestHead {
    /// Method, target (`path`, or `authority` for CONNECT), `Host` (as `authority`) and the other fields.
    package var request: HTTPRequest
    package var version: HTTPVersion
    /// How the body is delimited: ``HTTPBodyFraming/none``, a length, or chunked.
    package var framing: HTTPBodyFraming
    /// Whether the connection may carry another request after this one.
    package var keepAlive: Bool
    /// `Expect: 100-continue` (HTTP/1.1 only).
    package var expectsContinue: Bool
    /// The head's length in bytes, including the empty line.
    package var length: Int
}

/// A strict RFC 9112 request-head parser: feed it the bytes received so far (from the first
/// byte of the request) until it returns a head.
///
/// It rejects what RFC 9112 lets a server reject and what smuggling attacks rely on: bare
/// LF, obsolete line folding, whitespace before a field's colon, a target with spaces or
/// controls, versions other than 1.0/1.1, `Content-Length` with `Transfer-Encoding`,
/// differing `Content-Length`s, a `Transfer-Encoding` not ending in `chunked`, and a missing
/// or repeated `Host` in HTTP/1.1. Scanning allocates nothing; only the returned
/// `HTTPRequest` does.
package struct HTTPRequestParser {
    package var scanner: HTTPHeadScanner

    package init(maxHeadBytes: Int = 16 * 1024, maxFieldCount: Int = 100) {
        scanner = HTTPHeadScanner(maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
    }

    /// Forgets a partly received head.
    package mutating func reset() { scanner.reset() }

    /// Parses the head at the start of `bytes`, or returns nil when it is not complete yet
    /// (call again with the same bytes and more). Throws ``HTTPParseError``.
    package mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPRequestHead? {
        guard let length = try scanner.findEnd(bytes) else { return nil }
        return try parseHead(bytes, length: length)
    }

    private mutating func parseHead(_ head: UnsafeRawBufferPointer, length: Int) throws(HTTPParseError) -> HTTPRequestHead {
        // request-line = method SP request-target SP HTTP-version
        let lineEnd = HTTPHeadScanner.lineEnd(head, from: 0, headLength: length)
        var index = 0
        while index < lineEnd && HTTPBytes.isToken(head[index]) { index += 1 }
        guard index < lineEnd, head[index] == HTTPBytes.space else {
            throw HTTPParseError(index == 0 || index == lineEnd ? .invalidRequestLine : .invalidMethod, at: index)
        }
        guard index > 0 else { throw HTTPParseError(.invalidMethod, at: 0) }
        let method = 0..<index
        index += 1
        let targetStart = index
        while index < lineEnd && HTTPBytes.isTarget(head[index]) { index += 1 }
        guard index > targetStart else { throw HTTPParseError(.invalidTarget, at: index) }
        guard index < lineEnd, head[index] == HTTPBytes.space else {
            throw HTTPParseError(index == lineEnd ? .invalidRequestLine : .invalidTarget, at: index)
        }
        let target = targetStart..<index
        // A third space means the line has more than three parts (a target with a space, say).
        if let extra = HTTPBytes.firstIndex(of: HTTPBytes.space, in: head, from: index + 1, to: lineEnd) {
            throw HTTPParseError(.invalidRequestLine, at: extra)
        }
        let version = try Self.parseVersion(head, (index + 1)..<lineEnd)

        try scanner.scanFields(head, from: lineEnd + 2, headLength: length)
        let semantics = scanner.semantics

        // Framing (RFC 9112 section 6.3), strictest reading.
        let framing: HTTPBodyFraming
        if semantics.hasTransferEncoding {
            if version == .http1_0 { throw HTTPParseError(.transferEncodingInHTTP10, at: 0) }
            if semantics.contentLength != nil { throw HTTPParseError(.contentLengthWithTransferEncoding, at: 0) }
            guard semantics.chunkedIsLast else { throw HTTPParseError(.transferEncodingNotChunked, at: 0) }
            if semantics.hasOtherCoding { throw HTTPParseError(.unsupportedTransferCoding, at: 0) }
            framing = .chunked
        } else if let contentLength = semantics.contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        if semantics.hostCount > 1 { throw HTTPParseError(.multipleHosts, at: 0) }
        if semantics.hostCount == 0 && version == .http1_1 { throw HTTPParseError(.missingHost, at: 0) }

        let request = try makeRequest(head, method: method, target: target)
        let keepAlive = version == .http1_1 ? !semantics.connectionClose : (semantics.connectionKeepAlive && !semantics.connectionClose)
        return HTTPRequestHead(request: request, version: version, framing: framing, keepAlive: keepAlive,
                               expectsContinue: semantics.expectsContinue && version == .http1_1, length: length)
    }

    /// `HTTP/1.0` or `HTTP/1.1`; another `HTTP/d.d` is unsupported, anything else invalid.
    static func parseVersion(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTPParseError) -> HTTPVersion {
        if HTTPBytes.equals(head, range, "HTTP/1.1") { return .http1_1 }
        if HTTPBytes.equals(head, range, "HTTP/1.0") { return .http1_0 }
        let start = range.lowerBound
        guard range.count == 8, HTTPBytes.equals(head, start..<(start + 5), "HTTP/"),
              head[start + 5] >= 0x30 && head[start + 5] <= 0x39, head[start + 6] == UInt8(ascii: "."),
              head[start + 7] >= 0x30 && head[start + 7] <= 0x39
        else { throw HTTPParseError(.invalidVersion, at: start) }
        throw HTTPParseError(.unsupportedVersion, at: start)
    }

    /// Builds the swift-http-types request: the target goes to `path` (origin and asterisk
    /// form), to `authority` (CONNECT), or is split into scheme, authority and path
    /// (absolute form); `Host` becomes `authority` unless the target gave one.
    private func makeRequest(_ head: UnsafeRawBufferPointer, method methodRange: Range<Int>, target: Range<Int>) throws(HTTPParseError) -> HTTPRequest {
        let method = Self.method(head, methodRange)
        let fields = scanner.fields
        let hostIndex = scanner.semantics.hostIndex
        var scheme: String?
        var authority = hostIndex.map { HTTPBytes.string(head, fields[$0].value) }
        var path: String?
        let first = head[target.lowerBound]
        if method == .connect {
            // authority-form: host:port, nothing else.
            guard first != UInt8(ascii: "/") else { throw HTTPParseError(.invalidTarget, at: target.lowerBound) }
            authority = HTTPBytes.string(head, target)
        } else if first == UInt8(ascii: "/") {
            path = HTTPBytes.string(head, target)
        } else if first == UInt8(ascii: "*") && target.count == 1 {
            guard method == .options else { throw HTTPParseError(.invalidTarget, at: target.lowerBound) }
            path = "*"
        } else {
            // absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
            guard let colon = HTTPBytes.firstIndex(of: UInt8(ascii: ":"), in: head, from: target.lowerBound, to: target.upperBound),
                  colon > target.lowerBound, colon + 2 < target.upperBound,
                  head[colon + 1] == UInt8(ascii: "/"), head[colon + 2] == UInt8(ascii: "/")
            else { throw HTTPParseError(.invalidTarget, at: target.lowerBound) }
            for index in target.lowerBound..<colon {
                let byte = head[index]
                let isSchemeByte = (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || (index > target.lowerBound
                    && ((byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")))
                guard isSchemeByte else { throw HTTPParseError(.invalidTarget, at: index) }
            }
            let authorityStart = colon + 3
            var authorityEnd = authorityStart
            while authorityEnd < target.upperBound && head[authorityEnd] != UInt8(ascii: "/") && head[authorityEnd] != UInt8(ascii: "?") {
                authorityEnd += 1
            }
            guard authorityEnd > authorityStart else { throw HTTPParseError(.invalidTarget, at: authorityStart) }
            scheme = HTTPBytes.string(head, target.lowerBound..<colon)
            authority = HTTPBytes.string(head, authorityStart..<authorityEnd)
            if authorityEnd == target.upperBound {
                path = "/"
            } else if head[authorityEnd] == UInt8(ascii: "?") {
                path = "/" + HTTPBytes.string(head, authorityEnd..<target.upperBound)
            } else {
                path = HTTPBytes.string(head, authorityEnd..<target.upperBound)
            }
        }
        var headerFields = HTTPFields()
        // Host went to `authority`: a request with no other field allocates no field storage.
        let count = fields.count - (hostIndex == nil ? 0 : 1)
        if count > 0 {
            headerFields.reserveCapacity(count)
            for (index, field) in fields.enumerated() where index != hostIndex {
                headerFields.append(HTTPHeadScanner.makeField(head, field))
            }
        }
        return HTTPRequest(method: method, scheme: scheme, authority: authority, path: path, headerFields: headerFields)
    }

    /// The method, without building a string for the common ones.
    static func method(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> HTTPRequest.Method {
        switch range.count {
        case 3:
            if HTTPBytes.equals(head, range, "GET") { return .get }
            if HTTPBytes.equals(head, range, "PUT") { return .put }
        case 4:
            if HTTPBytes.equals(head, range, "POST") { return .post }
            if HTTPBytes.equals(head, range, "HEAD") { return .head }
        case 5:
            if HTTPBytes.equals(head, range, "PATCH") { return .patch }
            if HTTPBytes.equals(head, range, "TRACE") { return .trace }
        case 6:
            if HTTPBytes.equals(head, range, "DELETE") { return .delete }
        case 7:
            if HTTPBytes.equals(head, range, "OPTIONS") { return .options }
            if HTTPBytes.equals(head, range, "CONNECT") { return .connect }
        default:
            break
        }
        // A token, checked by the caller: the initialiser cannot fail.
        return HTTPRequest.Method(HTTPBytes.string(head, range)).unsafelyUnwrapped
    }
}

extension HTTPHeadScanner {
    /// The swift-http-types field for a scanned field line (name and value were validated).
    static func makeField(_ head: UnsafeRawBufferPointer, _ span: FieldSpan) -> HTTPField {
        let name = HTTPField.Name(HTTPBytes.string(head, span.name)).unsafelyUnwrapped
        return HTTPField(name: name, value: UnsafeRawBufferPointer(rebasing: head[span.value]))
    }
}
