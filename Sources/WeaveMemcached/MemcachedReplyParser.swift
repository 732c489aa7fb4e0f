/// A strict parser of meta-protocol replies over the bytes a stream has buffered: it reads
/// them in place and allocates only the value it returns.
///
/// Anything it does not recognise is a ``MemcachedError/Code/protocolError``: an unknown
/// status, a flag token that is empty or whose number does not parse, a value length that
/// is not a decimal number or exceeds the limit, a line or a value block that does not end
/// in `\r\n`, a header line longer than ``maximumLineLength``.
enum MemcachedReplyParser {
    /// The longest header line accepted (a `VA` line with every flag and a 250-byte key
    /// fits with room to spare).
    static let maximumLineLength = 2048

    /// What to do with a `VA` reply's data block.
    enum ValueMode {
        /// Copy it into ``MemcachedReply/value``.
        case bytes
        /// Parse it as a decimal number into ``MemcachedReply/number`` (`ma`).
        case number
    }

    enum Outcome {
        /// A reply, and how many bytes it took.
        case complete(MemcachedReply, consumed: Int)
        /// More bytes are needed: at least this many in all.
        case incomplete(needed: Int)
    }

    /// Parses the reply at the start of `bytes`.
    ///
    /// - Throws: ``MemcachedError`` (protocol, server or client error); `server` and
    ///   `command` only name them in the message.
    static func parse(
        _ bytes: UnsafeRawBufferPointer, valueMode: ValueMode, maximumValueSize: Int,
        server: MemcachedServer, command: StaticString
    ) throws -> Outcome {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            if bytes.count > maximumLineLength {
                throw protocolError("no end of line within \(maximumLineLength) bytes", bytes, server, command)
            }
            return .incomplete(needed: bytes.count + 1)
        }
        guard newline > 0, bytes[newline - 1] == UInt8(ascii: "\r") else {
            throw protocolError("a line ends in \\n without \\r", bytes, server, command)
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<(newline - 1)])
        let lineEnd = newline + 1
        guard line.count >= 2 else { throw protocolError("unknown reply", line, server, command) }
        let status: MemcachedReply.Status
        switch (line[0], line[1]) {
        case (UInt8(ascii: "V"), UInt8(ascii: "A")): status = .value
        case (UInt8(ascii: "H"), UInt8(ascii: "D")): status = .stored
        case (UInt8(ascii: "E"), UInt8(ascii: "N")): status = .miss
        case (UInt8(ascii: "N"), UInt8(ascii: "F")): status = .notFound
        case (UInt8(ascii: "N"), UInt8(ascii: "S")): status = .notStored
        case (UInt8(ascii: "E"), UInt8(ascii: "X")): status = .exists
        case (UInt8(ascii: "M"), UInt8(ascii: "N")): status = .noop
        default:
            try throwErrorLine(line, server, command)
        }
        if line.count > 2 && line[2] != UInt8(ascii: " ") {
            try throwErrorLine(line, server, command)
        }
        var reply = MemcachedReply(status: status)
        var position = 3
        var size = -1
        if status == .value {
            let token = nextToken(line, &position)
            guard let length = decimal(token), length <= UInt64(maximumValueSize) else {
                throw protocolError("bad value length '\(printable(token))' (limit \(maximumValueSize))", line, server, command)
            }
            size = Int(length)
        }
        while position <= line.count {
            let token = nextToken(line, &position)
            guard let letter = token.first, isLetter(letter) else {
                throw protocolError("bad flag '\(printable(token))'", line, server, command)
            }
            let argument = UnsafeRawBufferPointer(rebasing: token.dropFirst())
            switch letter {
            case UInt8(ascii: "c"):
                guard let cas = decimal(argument) else { throw protocolError("bad CAS token", line, server, command) }
                reply.cas = cas
            case UInt8(ascii: "f"):
                guard let flags = decimal(argument), let value = UInt32(exactly: flags) else {
                    throw protocolError("bad client flags", line, server, command)
                }
                reply.clientFlags = value
            case UInt8(ascii: "O"):
                guard let opaque = decimal(argument), let value = UInt32(exactly: opaque) else {
                    throw protocolError("bad opaque token", line, server, command)
                }
                reply.opaque = value
            default:
                break  // a flag this client did not ask for the meaning of (k, t, b, W, X, Z...)
            }
        }
        guard status == .value else { return .complete(reply, consumed: lineEnd) }
        let total = lineEnd + size + 2
        guard bytes.count >= total else { return .incomplete(needed: total) }
        guard bytes[lineEnd + size] == UInt8(ascii: "\r"), bytes[lineEnd + size + 1] == UInt8(ascii: "\n") else {
            throw protocolError("a value of \(size) bytes is not followed by \\r\\n", line, server, command)
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[lineEnd..<(lineEnd + size)])
        switch valueMode {
        case .bytes:
            reply.value = [UInt8](data)
        case .number:
            guard let number = decimal(data) else {
                throw protocolError("a counter value '\(printable(data))' is not a number", line, server, command)
            }
            reply.number = number
        }
        return .complete(reply, consumed: total)
    }

    /// The token starting at `position`, up to the next space or the end; moves `position`
    /// past the space (to `line.count + 1` at the end).
    private static func nextToken(_ line: UnsafeRawBufferPointer, _ position: inout Int) -> UnsafeRawBufferPointer.SubSequence {
        let start = min(position, line.count)
        var end = start
        while end < line.count && line[end] != UInt8(ascii: " ") { end += 1 }
        position = end + 1
        return line[start..<end]
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// An unsigned decimal of 1 to 20 digits that fits 64 bits; nil otherwise.
    static func decimal<Bytes: Collection<UInt8>>(_ digits: Bytes) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    /// Throws the error an `ERROR`, `CLIENT_ERROR` or `SERVER_ERROR` line stands for, or a
    /// protocol error for any other line.
    private static func throwErrorLine(_ line: UnsafeRawBufferPointer, _ server: MemcachedServer, _ command: StaticString) throws -> Never {
        if line.elementsEqual("ERROR".utf8) {
            throw MemcachedError(.clientError, "\(command): ERROR (command not known to the server)", server: server)
        }
        if line.starts(with: "SERVER_ERROR ".utf8) {
            throw MemcachedError(.serverError, "\(command): \(printable(line[13...]))", server: server)
        }
        if line.starts(with: "CLIENT_ERROR ".utf8) {
            throw MemcachedError(.clientError, "\(command): \(printable(line[13...]))", server: server)
        }
        throw protocolError("unknown reply", line, server, command)
    }

    private static func protocolError(
        _ what: String, _ line: some Collection<UInt8>, _ server: MemcachedServer, _ command: StaticString
    ) -> MemcachedError {
        MemcachedError(.protocolError, "\(command): \(what) in reply '\(printable(line.prefix(80)))'", server: server)
    }

    /// Bytes as text for a message, with anything unprintable as `\xNN`.
    static func printable(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7f {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}
