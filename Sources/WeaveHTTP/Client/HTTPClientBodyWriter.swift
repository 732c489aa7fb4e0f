import WeaveIO

/// Writes a streamed request body (``HTTPClientRequestBody/stream(length:_:)``) to the
/// connection: as is under `Content-Length`, or as one chunk per write.
///
/// Each write blocks the calling coroutine until the bytes are handed to the connection.
public final class HTTPClientBodyWriter {
    let stream: any ByteStream
    let chunked: Bool
    let declaredLength: Int?
    let timeout: () throws -> Duration?
    /// Bytes written so far.
    public private(set) var bytesWritten = 0
    private var frame: [UInt8] = []

    init(stream: any ByteStream, declaredLength: Int?, timeout: @escaping () throws -> Duration?) {
        self.stream = stream
        self.declaredLength = declaredLength
        self.chunked = declaredLength == nil
        self.timeout = timeout
    }

    /// Writes `bytes` (nothing for none). Throws ``HTTPClientError/Code/requestBodyLengthMismatch``
    /// past the declared length, and the connection's errors.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        if let declaredLength, bytesWritten + bytes.count > declaredLength {
            throw HTTPClientError(.requestBodyLengthMismatch, "request body longer than its Content-Length \(declaredLength)")
        }
        bytesWritten += bytes.count
        if chunked {
            frame.removeAll(keepingCapacity: true)
            if bytes.count <= 16 * 1024 {
                // A small chunk goes out in one write, framing included.
                HTTPChunkedEncoder.appendChunk(bytes, to: &frame)
                try stream.write(frame, timeout: try timeout())
            } else {
                HTTPChunkedEncoder.appendChunkHeader(bytes.count, to: &frame)
                try stream.write(frame, timeout: try timeout())
                try stream.write(bytes, timeout: try timeout())
                try stream.write([HTTPBytes.cr, HTTPBytes.lf], timeout: try timeout())
            }
        } else {
            try stream.write(bytes, timeout: try timeout())
        }
    }

    /// Writes `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Ends the body: the last chunk, or a check that the declared length was written.
    func finish() throws {
        if chunked {
            var last: [UInt8] = []
            HTTPChunkedEncoder.appendLastChunk(to: &last)
            try stream.write(last, timeout: try timeout())
        } else if let declaredLength, bytesWritten != declaredLength {
            throw HTTPClientError(.requestBodyLengthMismatch,
                                  "request body of \(bytesWritten) bytes, Content-Length \(declaredLength)")
        }
    }
}
