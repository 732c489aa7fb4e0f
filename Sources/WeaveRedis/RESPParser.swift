import Glibc

/// Parses RESP2/RESP3 replies straight out of a connection's read buffer: no copy of the
/// input, and no allocation beyond the values it returns.
///
/// ``parse()`` returns nil when the buffer holds only part of a reply; the caller then
/// waits for more bytes and parses again from the start of that reply (replies rarely span
/// reads, so keeping no partial state is cheaper than keeping it).
struct RESPParser {
    /// The bytes, borrowed for the duration of one `withUnsafeReadableBytes` call.
    let bytes: UnsafeRawBufferPointer
    /// Where the next reply starts.
    private(set) var index = 0

    /// Nesting beyond this is refused as a protocol error, so garbage like `****...` cannot
    /// exhaust the coroutine's stack.
    static let maximumDepth = 64
    /// The largest bulk string Redis itself accepts (`proto-max-bulk-len`'s ceiling).
    static let maximumBulkLength = 512 * 1024 * 1024

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next complete reply, or nil if the buffer ends inside it (``index`` is then
    /// unchanged). Throws ``RedisError/Code/protocolError`` for bytes that are not RESP.
    ///
    /// With `bulkAsText`, a bulk string reply (not one inside an aggregate) comes back as
    /// `.simpleString` of its UTF-8: for a caller that wants a `String` anyway (`GET`), which
    /// saves the byte array (a value of up to 15 bytes then costs no allocation at all).
    mutating func parse(bulkAsText: Bool = false) throws(RedisError) -> RESPValue? {
        var cursor = index
        guard let value = try value(at: &cursor, depth: 0, bulkAsText: bulkAsText) else { return nil }
        index = cursor
        return value
    }

    private func value(at cursor: inout Int, depth: Int, bulkAsText: Bool = false) throws(RedisError) -> RESPValue? {
        guard depth < Self.maximumDepth else { throw malformed("nesting deeper than \(Self.maximumDepth)", at: cursor) }
        guard cursor < bytes.count else { return nil }
        let type = bytes[cursor]
        let lineStart = cursor + 1
        guard let lineEnd = try lineEnd(from: lineStart) else { return nil }
        // The line is bytes[lineStart..<lineEnd]; the next element starts after "\r\n".
        let next = lineEnd + 2
        switch type {
        case UInt8(ascii: "+"):
            cursor = next
            return .simpleString(text(lineStart, lineEnd))
        case UInt8(ascii: "-"):
            cursor = next
            return .error(text(lineStart, lineEnd))
        case UInt8(ascii: ":"):
            let number = try integer(lineStart, lineEnd)
            cursor = next
            return .integer(number)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try integer(lineStart, lineEnd)
            if length == -1 && type == UInt8(ascii: "$") {
                cursor = next
                return .null
            }
            guard length >= 0, length <= Self.maximumBulkLength else {
                throw malformed("bulk length \(length)", at: lineStart)
            }
            let end = next + Int(length)
            guard end + 2 <= bytes.count else { return nil }
            guard bytes[end] == UInt8(ascii: "\r"), bytes[end + 1] == UInt8(ascii: "\n") else {
                throw malformed("bulk string of \(length) bytes not followed by CRLF", at: end)
            }
            cursor = end + 2
            switch type {
            case UInt8(ascii: "$"):
                if bulkAsText { return .simpleString(text(next, end)) }
                return .bulkString([UInt8](UnsafeRawBufferPointer(rebasing: bytes[next..<end])))
            case UInt8(ascii: "!"):
                return .error(text(next, end))
            default:
                guard length >= 4, bytes[next + 3] == UInt8(ascii: ":") else {
                    throw malformed("verbatim string without its format", at: next)
                }
                return .verbatimString(format: text(next, next + 3), text: text(next + 4, end))
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try integer(lineStart, lineEnd)
            if count == -1 && type == UInt8(ascii: "*") {
                cursor = next
                return .null
            }
            guard count >= 0, count <= Int64(Int32.max) else { throw malformed("aggregate count \(count)", at: lineStart) }
            var position = next
            if type == UInt8(ascii: "%") || type == UInt8(ascii: "|") {
                var pairs: [RESPPair] = []
                // Every element takes at least 3 bytes: a huge count in garbage reserves nothing big.
                pairs.reserveCapacity(min(Int(count), (bytes.count - position) / 6))
                for _ in 0..<count {
                    guard let key = try value(at: &position, depth: depth + 1),
                          let element = try value(at: &position, depth: depth + 1) else { return nil }
                    pairs.append(RESPPair(key: key, value: element))
                }
                if type == UInt8(ascii: "|") {
                    // Attributes describe the reply that follows; the client has no use for them.
                    guard let reply = try value(at: &position, depth: depth + 1) else { return nil }
                    cursor = position
                    return reply
                }
                cursor = position
                return .map(pairs)
            }
            var values: [RESPValue] = []
            values.reserveCapacity(min(Int(count), (bytes.count - position) / 3))
            for _ in 0..<count {
                guard let element = try value(at: &position, depth: depth + 1) else { return nil }
                values.append(element)
            }
            cursor = position
            switch type {
            case UInt8(ascii: "~"): return .set(values)
            case UInt8(ascii: ">"): return .push(values)
            default: return .array(values)
            }
        case UInt8(ascii: "_"):
            guard lineEnd == lineStart else { throw malformed("null with a payload", at: lineStart) }
            cursor = next
            return .null
        case UInt8(ascii: "#"):
            guard lineEnd == lineStart + 1 else { throw malformed("boolean of \(lineEnd - lineStart) bytes", at: lineStart) }
            cursor = next
            switch bytes[lineStart] {
            case UInt8(ascii: "t"): return .boolean(true)
            case UInt8(ascii: "f"): return .boolean(false)
            default: throw malformed("boolean", at: lineStart)
            }
        case UInt8(ascii: ","):
            let literal = text(lineStart, lineEnd)
            let number: Double?
            switch literal {
            case "inf": number = .infinity
            case "-inf": number = -.infinity
            case "nan": number = .nan
            default: number = Double(literal)
            }
            guard let number else { throw malformed("double '\(literal.prefix(40))'", at: lineStart) }
            cursor = next
            return .double(number)
        case UInt8(ascii: "("):
            let literal = text(lineStart, lineEnd)
            guard !literal.isEmpty, literal.utf8.enumerated().allSatisfy({ ($1 >= 48 && $1 <= 57) || ($0 == 0 && ($1 == 45 || $1 == 43)) }) else {
                throw malformed("big number", at: lineStart)
            }
            cursor = next
            return .bigNumber(literal)
        default:
            throw malformed("unknown type byte 0x\(String(type, radix: 16))", at: cursor)
        }
    }

    /// The index of the `\r` of the line starting at `start`, or nil if its end has not arrived.
    /// Throws for a bare `\n` or a `\r` not followed by `\n`.
    private func lineEnd(from start: Int) throws(RedisError) -> Int? {
        guard start < bytes.count else { return nil }
        let base = bytes.baseAddress.unsafelyUnwrapped
        guard let found = memchr(base + start, 0x0A, bytes.count - start) else {
            // Lines are short (a type and a length, or a status): garbage without newlines
            // must not make the reader buffer without limit.
            if bytes.count - start > 64 * 1024 { throw malformed("no line end within 64 KiB", at: start) }
            return nil
        }
        let newline = base.distance(to: UnsafeRawPointer(found))
        guard newline > start, bytes[newline - 1] == UInt8(ascii: "\r") else {
            throw malformed("line not ended by CRLF", at: newline)
        }
        return newline - 1
    }

    private func integer(_ start: Int, _ end: Int) throws(RedisError) -> Int64 {
        var position = start
        var negative = false
        if position < end && (bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+")) {
            negative = bytes[position] == UInt8(ascii: "-")
            position += 1
        }
        guard position < end, end - position <= 19 else { throw malformed("integer '\(text(start, end).prefix(40))'", at: start) }
        var value: Int64 = 0
        while position < end {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { throw malformed("integer '\(text(start, end).prefix(40))'", at: start) }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(digit))
            guard !overflow, !overflow2 else { throw malformed("integer out of range", at: start) }
            value = sum
            position += 1
        }
        return negative ? -value : value
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private func malformed(_ what: String, at offset: Int) -> RedisError {
        let from = max(0, offset - 8)
        let excerpt = UnsafeRawBufferPointer(rebasing: bytes[from..<min(bytes.count, offset + 24)])
        let shown = excerpt.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "\\x\(String($0, radix: 16))" }.joined()
        return RedisError(.protocolError, "malformed reply: \(what) (near \"\(shown)\")")
    }
}
