/// Writes chunked transfer coding (RFC 9112 section 7.1): a size line before each chunk,
/// CRLF after it, and the last chunk with an empty trailer section.
package enum HTTPChunkedEncoder {
    /// Appends `hex(count) CRLF`: the line before `count` bytes of data.
    package static func appendChunkHeader<Sink: HTTPByteSink & ~Copyable>(_ count: Int, to output: inout Sink) {
        precondition(count > 0, "a chunk of zero bytes would end the body")
        var shift = (Int.bitWidth - count.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: count >> shift) & 0xF
            output.append(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10)
            shift -= 4
        }
        output.append(HTTPBytes.cr)
        output.append(HTTPBytes.lf)
    }

    /// Appends the CRLF that ends a chunk's data.
    package static func appendChunkEnd<Sink: HTTPByteSink & ~Copyable>(to output: inout Sink) {
        output.append(HTTPBytes.cr)
        output.append(HTTPBytes.lf)
    }

    /// Appends one whole chunk (nothing for empty `bytes`: an empty chunk would end the body).
    package static func appendChunk<Sink: HTTPByteSink & ~Copyable>(_ bytes: UnsafeRawBufferPointer, to output: inout Sink) {
        guard !bytes.isEmpty else { return }
        appendChunkHeader(bytes.count, to: &output)
        output.append(contentsOf: bytes)
        appendChunkEnd(to: &output)
    }

    /// Appends the last chunk and an empty trailer section: `0 CRLF CRLF`.
    package static func appendLastChunk<Sink: HTTPByteSink & ~Copyable>(to output: inout Sink) {
        let last: StaticString = "0\r\n\r\n"
        output.append(contentsOf: UnsafeRawBufferPointer(start: last.utf8Start, count: last.utf8CodeUnitCount))
    }
}
