/// The part of parsing a message head that requests and responses share: finding where the
/// head ends (incrementally, as bytes arrive), then splitting its field lines into offsets and
/// reading the fields that frame the body, without allocating (the offsets go into an array
/// reused from head to head).
package struct HTTPHeadScanner {
    /// One field line: where its name and its value (without surrounding whitespace) lie in the head.
    package struct FieldSpan {
        package var name: Range<Int>
        package var value: Range<Int>
    }

    /// What the framing fields said.
    package struct Semantics {
        package var contentLength: Int?
        package var hasTransferEncoding = false
        /// `chunked` is the last transfer coding (and appears once).
        package var chunkedIsLast = false
        /// A transfer coding other than `chunked` appears.
        package var hasOtherCoding = false
        package var connectionClose = false
        package var connectionKeepAlive = false
        package var expectsContinue = false
        package var hostCount = 0
        /// The field index of the (first) `Host` field.
        package var hostIndex: Int?
    }

    /// The longest head accepted, in bytes (start line, fields and the empty line).
    package var maxHeadBytes: Int
    /// The most field lines accepted.
    package var maxFieldCount: Int
    /// Bytes already searched for the end of the head (resumed from there).
    private var scanned = 0
    /// The field lines of the head being parsed (reused, so no allocation in steady state).
    package private(set) var fields: [FieldSpan] = []
    package private(set) var semantics = Semantics()

    package init(maxHeadBytes: Int, maxFieldCount: Int) {
        precondition(maxHeadBytes > 0 && maxFieldCount >= 0, "HTTP head limits must be positive")
        self.maxHeadBytes = maxHeadBytes
        self.maxFieldCount = maxFieldCount
        fields.reserveCapacity(min(maxFieldCount, 32))
    }

    /// Forgets a partly searched head (the next bytes start a new message).
    package mutating func reset() {
        scanned = 0
    }

    /// Searches `bytes` (the head so far, from its first byte) for the empty line that ends
    /// it; returns the head's length including that line, or nil if more bytes are needed.
    /// Resumes where the previous call stopped, so feeding a head byte by byte is linear.
    ///
    /// Throws ``HTTPParseError/Code/bareLineFeed`` and ``HTTPParseError/Code/headTooLarge``.
    package mutating func findEnd(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int? {
        var index = scanned
        let count = bytes.count
        let limit = min(count, maxHeadBytes)
        while let lineFeed = HTTPBytes.firstIndex(of: HTTPBytes.lf, in: bytes, from: index, to: limit) {
            guard lineFeed > 0, bytes[lineFeed - 1] == HTTPBytes.cr else {
                throw HTTPParseError(.bareLineFeed, at: lineFeed)
            }
            // Every LF seen before was checked to follow a CR: "\r\n\r\n" is "\n?\n" here.
            if lineFeed >= 3 && bytes[lineFeed - 2] == HTTPBytes.lf {
                scanned = 0
                return lineFeed + 1
            }
            index = lineFeed + 1
        }
        if count >= maxHeadBytes { throw HTTPParseError(.headTooLarge, at: maxHeadBytes) }
        scanned = count
        return nil
    }

    /// How many bytes of `bytes` are empty lines (CRLF) before a message, which a server
    /// skips (RFC 9112 section 2.2: a client may send one after a request body).
    package static func leadingEmptyLines(_ bytes: UnsafeRawBufferPointer) -> Int {
        var index = 0
        while index + 1 < bytes.count && bytes[index] == HTTPBytes.cr && bytes[index + 1] == HTTPBytes.lf { index += 2 }
        return index
    }

    /// The end of the line starting at `start` (the index of its CR); the head was checked to
    /// end every line in CRLF.
    @inline(__always)
    static func lineEnd(_ head: UnsafeRawBufferPointer, from start: Int, headLength: Int) -> Int {
        HTTPBytes.firstIndex(of: HTTPBytes.lf, in: head, from: start, to: headLength).unsafelyUnwrapped - 1
    }

    /// Splits the field lines in `head[from..<headLength - 2]` (after the start line) into
    /// ``fields`` and reads the framing fields into ``semantics``.
    ///
    /// Throws for a malformed field line, too many fields, and unreadable framing fields
    /// (``HTTPParseError/Code/invalidContentLength``, ``HTTPParseError/Code/conflictingContentLength``).
    package mutating func scanFields(_ head: UnsafeRawBufferPointer, from start: Int, headLength: Int) throws(HTTPParseError) {
        fields.removeAll(keepingCapacity: true)
        semantics = Semantics()
        var lineStart = start
        let fieldsEnd = headLength - 2  // the final empty line
        while lineStart < fieldsEnd {
            let end = Self.lineEnd(head, from: lineStart, headLength: headLength)
            if HTTPBytes.isWhitespace(head[lineStart]) { throw HTTPParseError(.obsoleteLineFolding, at: lineStart) }
            var index = lineStart
            while index < end && HTTPBytes.isToken(head[index]) { index += 1 }
            guard index > lineStart, index < end, head[index] == UInt8(ascii: ":") else {
                throw HTTPParseError(.invalidFieldName, at: index)
            }
            let name = lineStart..<index
            index += 1
            while index < end && HTTPBytes.isWhitespace(head[index]) { index += 1 }
            let valueStart = index
            var valueEnd = index
            while index < end {
                let byte = head[index]
                guard HTTPBytes.isFieldValue(byte) else { throw HTTPParseError(.invalidFieldValue, at: index) }
                index += 1
                if !HTTPBytes.isWhitespace(byte) { valueEnd = index }
            }
            guard fields.count < maxFieldCount else { throw HTTPParseError(.tooManyFields, at: lineStart) }
            let span = FieldSpan(name: name, value: valueStart..<valueEnd)
            try readFramingField(head, span, index: fields.count)
            fields.append(span)
            lineStart = end + 2
        }
    }

    /// Notes what a field that frames the body or steers the connection says.
    private mutating func readFramingField(_ head: UnsafeRawBufferPointer, _ span: FieldSpan, index: Int) throws(HTTPParseError) {
        switch span.name.count {
        case 4:
            if HTTPBytes.equalsIgnoringCase(head, span.name, "host") {
                semantics.hostCount += 1
                if semantics.hostIndex == nil { semantics.hostIndex = index }
            }
        case 6:
            if HTTPBytes.equalsIgnoringCase(head, span.name, "expect") {
                if HTTPBytes.equalsIgnoringCase(head, span.value, "100-continue") { semantics.expectsContinue = true }
            }
        case 10:
            if HTTPBytes.equalsIgnoringCase(head, span.name, "connection") {
                forEachElement(head, span.value) { element in
                    if HTTPBytes.equalsIgnoringCase(head, element, "close") { semantics.connectionClose = true }
                    if HTTPBytes.equalsIgnoringCase(head, element, "keep-alive") { semantics.connectionKeepAlive = true }
                }
            }
        case 14:
            if HTTPBytes.equalsIgnoringCase(head, span.name, "content-length") {
                try readContentLength(head, span.value)
            }
        case 17:
            if HTTPBytes.equalsIgnoringCase(head, span.name, "transfer-encoding") {
                semantics.hasTransferEncoding = true
                var failure: HTTPParseError?
                forEachElement(head, span.value) { element in
                    // A coding may carry parameters ("gzip;q=1"); only the name matters here.
                    var nameEnd = element.lowerBound
                    while nameEnd < element.upperBound && HTTPBytes.isToken(head[nameEnd]) { nameEnd += 1 }
                    if HTTPBytes.equalsIgnoringCase(head, element.lowerBound..<nameEnd, "chunked") && nameEnd == element.upperBound {
                        // chunked applied twice is an error (RFC 9112 section 6.1).
                        if semantics.chunkedIsLast && failure == nil {
                            failure = HTTPParseError(.transferEncodingNotChunked, at: element.lowerBound)
                        }
                        semantics.chunkedIsLast = true
                    } else {
                        semantics.hasOtherCoding = true
                        semantics.chunkedIsLast = false
                    }
                }
                if let failure { throw failure }
            }
        default:
            break
        }
    }

    /// `1*DIGIT`, or a list of identical ones (RFC 9110 section 8.6); differing values or a
    /// second field with another value are a conflict.
    private mutating func readContentLength(_ head: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTPParseError) {
        var failure: HTTPParseError?
        var sawElement = false
        forEachElement(head, value) { element in
            guard failure == nil else { return }
            sawElement = true
            var length = 0
            for index in element {
                let byte = head[index]
                // 2^62 at most: no overflow, and no body is that long.
                guard byte >= 0x30 && byte <= 0x39, length < (1 << 58) else {
                    failure = HTTPParseError(.invalidContentLength, at: index)
                    return
                }
                length = length * 10 + Int(byte - 0x30)
            }
            if let known = semantics.contentLength, known != length {
                failure = HTTPParseError(.conflictingContentLength, at: element.lowerBound)
                return
            }
            semantics.contentLength = length
        }
        if let failure { throw failure }
        // An empty value, or a list of nothing but commas.
        if !sawElement { throw HTTPParseError(.invalidContentLength, at: value.lowerBound) }
    }

    /// Calls `body` with each non-empty element of a comma-separated list, without
    /// surrounding whitespace.
    @inline(__always)
    private func forEachElement(_ head: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void) {
        var index = value.lowerBound
        while index < value.upperBound {
            while index < value.upperBound && (HTTPBytes.isWhitespace(head[index]) || head[index] == UInt8(ascii: ",")) { index += 1 }
            let start = index
            while index < value.upperBound && head[index] != UInt8(ascii: ",") { index += 1 }
            var end = index
            while end > start && HTTPBytes.isWhitespace(head[end - 1]) { end -= 1 }
            if end > start { body(start..<end) }
        }
    }
}
