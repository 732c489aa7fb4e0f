import HTTPTypes

/// Writes the response to one request, as a stream: the head, then body bytes, then
/// ``finish()``.
///
/// With a `contentLength` the body must be exactly that long; without one it goes out
/// chunked (to an HTTP/1.0 client: unframed, and the connection closes after it). A
/// response to HEAD sends the head only (body writes are dropped). Writes are buffered
/// (``HTTPServer/Configuration/outputBufferBytes``) and go out at ``finish()``, at
/// ``flush()``, or when the buffer fills.
///
/// Valid only while the handler that received it runs. If the handler returns without
/// writing, the server answers `200` with an empty body; without ``finish()``, the server
/// finishes the response.
public struct HTTPResponseWriter {
    let exchange: any HTTPExchange
    let id: UInt64

    /// Whether the head was written (or buffered) already.
    public var isHeadSent: Bool { exchange.isHeadSent(id: id) }

    /// Buffers the response head. The server adds `Date`, `Content-Length` or
    /// `Transfer-Encoding: chunked`, and `Connection` as needed (such fields in `response`
    /// are replaced; a `Connection: close` there closes the connection after this response).
    ///
    /// Throws ``HTTPServerError/Code/headAlreadySent``, ``HTTPServerError/Code/informationalStatus``,
    /// and the stream's errors if the buffer had to be flushed.
    public func writeHead(_ response: HTTPResponse, contentLength: Int? = nil) throws {
        try exchange.writeHead(response, contentLength: contentLength, id: id)
    }

    /// Writes body bytes (writing a `200 OK` head first if none was written). Blocks the
    /// calling coroutine while the client does not read; throws
    /// ``HTTPServerError/Code/bodyLengthExceeded`` past the declared length,
    /// ``HTTPServerError/Code/bodyNotAllowed`` for 204/304, `TimeoutError` after
    /// ``HTTPServer/Configuration/writeTimeout``, the stream's errors and `CancellationError`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try exchange.writeBody(bytes, id: id)
    }

    /// Writes body bytes; see ``write(_:)-(UnsafeRawBufferPointer)``.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try exchange.writeBody($0, id: id) }
    }

    /// Writes `text` as UTF-8 body bytes; see ``write(_:)-(UnsafeRawBufferPointer)``.
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try exchange.writeBody(UnsafeRawBufferPointer($0), id: id) }
    }

    /// Sends what is buffered now (for a response streamed over time). Blocks while the
    /// client does not read.
    public func flush() throws {
        try exchange.flush(id: id)
    }

    /// Ends the response (the last chunk, for a chunked one). Throws
    /// ``HTTPServerError/Code/bodyShorterThanDeclared`` if fewer bytes than `contentLength`
    /// were written (the connection then closes), and the stream's errors.
    public func finish() throws {
        try exchange.finish(id: id)
    }

    /// Writes a whole response with `body` (UTF-8) and finishes it.
    public func respond(_ response: HTTPResponse, body: String = "") throws {
        var body = body
        try body.withUTF8 { bytes in
            try exchange.writeHead(response, contentLength: bytes.count, id: id)
            try exchange.writeBody(UnsafeRawBufferPointer(bytes), id: id)
        }
        try exchange.finish(id: id)
    }
}
