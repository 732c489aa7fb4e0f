import HTTPTypes

/// A request as a handler of ``HTTPServer`` sees it: the head, and the body as a stream.
///
/// Valid only while the handler that received it runs; reading afterwards throws
/// ``HTTPServerError/Code/requestFinished``. Not `Sendable`: it belongs to the connection's
/// coroutine.
public struct HTTPServerRequest {
    /// Method, path, authority (from `Host`) and header fields.
    public let head: HTTPRequest
    /// HTTP/1.0 or HTTP/1.1.
    public let version: HTTPVersion
    /// The body's length if the client declared it (`Content-Length`; 0 for no body), nil for
    /// a chunked body.
    public let contentLength: Int?
    let exchange: any HTTPExchange
    let id: UInt64

    init(head: HTTPRequest, version: HTTPVersion, contentLength: Int?, exchange: any HTTPExchange, id: UInt64) {
        self.head = head
        self.version = version
        self.contentLength = contentLength
        self.exchange = exchange
        self.id = id
    }

    /// Copies the next body bytes into `buffer`, waiting for at least one; returns 0 at the
    /// end of the body. The first read answers `Expect: 100-continue` with `100 Continue`.
    ///
    /// Blocks the calling coroutine while the client sends. Throws `TimeoutError` after
    /// ``HTTPServer/Configuration/bodyReadTimeout`` without bytes, ``HTTPServerError`` with
    /// ``HTTPServerError/Code/bodyTooLarge`` past the server's body limit or
    /// ``HTTPServerError/Code/unexpectedEnd`` if the client closes early, ``HTTPParseError``
    /// for a malformed chunked body, the stream's errors, and `CancellationError`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try exchange.readBody(into: buffer, id: id)
    }

    /// Reads the whole body. Throws ``HTTPServerError/Code/bodyTooLarge`` (before reading, for
    /// a declared length) if it is longer than `maxBytes`, and what ``read(into:)`` throws.
    public func readAll(maxBytes: Int = 1 << 20) throws -> [UInt8] {
        try exchange.readAll(maxBytes: maxBytes, id: id)
    }
}
