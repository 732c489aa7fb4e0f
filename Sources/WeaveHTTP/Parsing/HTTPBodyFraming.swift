/// How a message's body is delimited on the wire (RFC 9112 section 6.3), as the head parser
/// decided it.
package enum HTTPBodyFraming: Equatable, Sendable {
    /// No body (a request without `Content-Length` or `Transfer-Encoding`; a response to HEAD,
    /// a 1xx, 204 or 304).
    case none
    /// Exactly this many bytes.
    case length(Int)
    /// Chunked transfer coding (``HTTPChunkedDecoder``).
    case chunked
    /// Everything until the connection closes (responses only).
    case untilClose
}
