/// A read-ahead buffer in front of a ``ByteStream`` that has none of its own (TLS), so a
/// parser can read it in place as it reads a ``StreamConnection``.
///
/// One reader at a time, as for the stream. The buffer is one allocation, reused: it grows
/// to the largest message asked for and is freed at deinit.
package final class ReadAheadStream<Stream: ByteStream>: InPlaceReadable {
    /// The stream read from. Writes go to it directly.
    package let stream: Stream
    /// Owned; freed at deinit.
    private var buffer = ReadBuffer()
    private var reachedEnd = false

    package init(_ stream: Stream) {
        self.stream = stream
    }

    deinit {
        buffer.deallocate()
    }

    /// Reads until at least `count` bytes are buffered or the stream ends, then gives `body`
    /// what is buffered and drops as many bytes as it returns.
    ///
    /// - Throws: the stream's errors (`TimeoutError` after `timeout`), `body`'s.
    package func withUnsafeReadableBytes(
        atLeast count: Int = 1, timeout: Duration? = nil, _ body: (UnsafeRawBufferPointer) throws -> Int
    ) throws {
        let wanted = max(1, count)
        if buffer.count < wanted && !reachedEnd {
            let deadline = timeout.map { ContinuousClock.now + $0 }
            while buffer.count < wanted && !reachedEnd {
                let space = buffer.reserveTail(minimum: max(16 * 1024, wanted - buffer.count))
                let read = try stream.read(into: space, timeout: deadline.map { max(.zero, $0 - .now) })
                if read == 0 { reachedEnd = true } else { buffer.commit(read) }
            }
        }
        let consumed = try body(buffer.readable)
        buffer.consume(min(max(0, consumed), buffer.count))
    }
}
