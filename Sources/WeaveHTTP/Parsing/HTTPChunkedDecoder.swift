/// Decodes a chunked body (RFC 9112 section 7.1) incrementally, in place: each call says how
/// many framing bytes to skip and where the next run of body bytes lies in the input, so the
/// caller copies the data straight from its read buffer.
///
/// Chunk extensions are skipped, as are trailer fields (checked to be field lines and
/// bounded in size). Sizes past 2^62, missing CRLFs, and chunk lines longer than
/// ``maxLineBytes`` are errors.
package struct HTTPChunkedDecoder {
    /// What the next bytes of the input are.
    package enum Step: Equatable {
        /// Body bytes at `input[offset..<offset + count]`; consume `offset + count` bytes.
        case data(offset: Int, count: Int)
        /// Consume `consumed` bytes (framing) and call again with more input.
        case needMore(consumed: Int)
        /// The body ended (last chunk and trailers read); consume `consumed` bytes.
        case end(consumed: Int)
    }

    private enum State: Equatable {
        case size(digits: Int, value: Int)
        /// After the size: extensions (or whitespace) until CRLF.
        case sizeLine
        case sizeLineFeed
        case data(remaining: Int)
        case dataCarriageReturn
        case dataLineFeed
        /// At the start of a trailer line (or the final empty line).
        case trailerLineStart
        case trailerLine
        case trailerLineFeed(empty: Bool)
        case done
    }

    private var state = State.size(digits: 0, value: 0)
    /// Bytes of the current chunk line (or trailer section) so far.
    private var lineBytes = 0
    /// Bytes of the body handled so far (for error offsets).
    private var position = 0
    /// The longest chunk size line (size and extensions) accepted.
    package var maxLineBytes: Int
    /// The longest trailer section accepted.
    package var maxTrailerBytes: Int

    package init(maxLineBytes: Int = 4096, maxTrailerBytes: Int = 16 * 1024) {
        self.maxLineBytes = maxLineBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Whether the last chunk and the trailers were read.
    package var isDone: Bool { state == .done }

    /// Reads framing from the start of `input` up to the next body bytes (at most
    /// `maxCount` of them), the end, or the end of `input`. Throws ``HTTPParseError`` for a
    /// malformed body.
    package mutating func next(_ input: UnsafeRawBufferPointer, maxCount: Int = .max) throws(HTTPParseError) -> Step {
        precondition(maxCount > 0, "a chunked read must want at least one byte")
        self.maxCount = maxCount
        let step = try advance(input)
        switch step {
        case .data(let offset, let count): position += offset + count
        case .needMore(let consumed), .end(let consumed): position += consumed
        }
        return step
    }

    private mutating func advance(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> Step {
        var index = 0
        let count = input.count
        while index < count {
            let byte = input[index]
            switch state {
            case .size(let digits, let value):
                if let digit = HTTPBytes.hexValue(byte) {
                    // 2^62 at most: no overflow, and no chunk is that long.
                    guard value < (1 << 58) else { throw error(.chunkSizeTooLarge, index) }
                    state = .size(digits: digits + 1, value: value << 4 | digit)
                } else {
                    guard digits > 0 else { throw error(.invalidChunkSize, index) }
                    pendingSize = value
                    state = .sizeLine
                    continue  // this byte belongs to the rest of the line
                }
            case .sizeLine:
                // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): tolerated, not
                // interpreted; any visible byte or whitespace until CR.
                if byte == HTTPBytes.cr {
                    state = .sizeLineFeed
                } else if !HTTPBytes.isFieldValue(byte) {
                    throw error(.invalidChunkFraming, index)
                }
            case .sizeLineFeed:
                guard byte == HTTPBytes.lf else { throw error(.invalidChunkFraming, index) }
                lineBytes = 0
                if pendingSize == 0 {
                    state = .trailerLineStart
                    index += 1
                    continue
                }
                state = .data(remaining: pendingSize)
                return dataStep(input, from: index + 1)
            case .data:
                return dataStep(input, from: index)
            case .dataCarriageReturn:
                guard byte == HTTPBytes.cr else { throw error(.invalidChunkFraming, index) }
                state = .dataLineFeed
                index += 1
                continue
            case .dataLineFeed:
                guard byte == HTTPBytes.lf else { throw error(.invalidChunkFraming, index) }
                state = .size(digits: 0, value: 0)
                lineBytes = 0
                index += 1
                continue
            case .trailerLineStart:
                if byte == HTTPBytes.cr {
                    state = .trailerLineFeed(empty: true)
                } else {
                    // A trailer field line: name ":" value; checked, then dropped.
                    guard HTTPBytes.isToken(byte) else { throw error(.invalidTrailer, index) }
                    state = .trailerLine
                    sawColon = false
                }
            case .trailerLine:
                if byte == HTTPBytes.cr {
                    guard sawColon else { throw error(.invalidTrailer, index) }
                    state = .trailerLineFeed(empty: false)
                } else if !sawColon {
                    if byte == UInt8(ascii: ":") {
                        sawColon = true
                    } else if !HTTPBytes.isToken(byte) {
                        throw error(.invalidTrailer, index)
                    }
                } else if !HTTPBytes.isFieldValue(byte) {
                    throw error(.invalidTrailer, index)
                }
            case .trailerLineFeed(let empty):
                guard byte == HTTPBytes.lf else { throw error(.invalidChunkFraming, index) }
                if empty {
                    state = .done
                    return .end(consumed: index + 1)
                }
                state = .trailerLineStart
            case .done:
                return .end(consumed: index)
            }
            index += 1
            // A chunk line is bounded on its own, the trailer section as a whole.
            lineBytes += 1
            if lineBytes > (pendingSize == 0 && isInTrailers ? maxTrailerBytes : maxLineBytes) {
                throw error(isInTrailers ? .trailersTooLarge : .chunkLineTooLong, index)
            }
        }
        if state == .done { return .end(consumed: index) }
        return .needMore(consumed: index)
    }

    private var isInTrailers: Bool {
        switch state {
        case .trailerLineStart, .trailerLine, .trailerLineFeed: true
        default: false
        }
    }

    /// The size of the chunk whose size line is being read.
    private var pendingSize = 0
    /// The most data bytes the current call returns.
    private var maxCount = Int.max
    /// Whether the trailer line being read has passed its colon.
    private var sawColon = false

    /// At `input[index]` inside a chunk's data: returns as much of it as `input` holds.
    private mutating func dataStep(_ input: UnsafeRawBufferPointer, from index: Int) -> Step {
        guard case .data(let remaining) = state else { return .needMore(consumed: index) }
        let available = min(remaining, input.count - index, maxCount)
        state = available == remaining ? .dataCarriageReturn : .data(remaining: remaining - available)
        if available == 0 { return .needMore(consumed: index) }
        return .data(offset: index, count: available)
    }

    private func error(_ code: HTTPParseError.Code, _ index: Int) -> HTTPParseError {
        HTTPParseError(code, at: position + index)
    }
}
