/// The body of a request made with ``HTTPClient``: bytes in memory (sent with
/// `Content-Length`, and replayable for a 307/308 redirect or a retry on a stale
/// connection), or a stream written by a closure (with `Content-Length` when its length is
/// given, chunked otherwise).
public struct HTTPClientRequestBody {
    enum Storage {
        case bytes([UInt8])
        case stream(length: Int?, write: (HTTPClientBodyWriter) throws -> Void)
    }

    let storage: Storage

    /// `bytes`, sent with `Content-Length`.
    public static func bytes(_ bytes: [UInt8]) -> HTTPClientRequestBody { HTTPClientRequestBody(storage: .bytes(bytes)) }

    /// `text` as UTF-8, sent with `Content-Length`.
    public static func string(_ text: String) -> HTTPClientRequestBody { HTTPClientRequestBody(storage: .bytes(Array(text.utf8))) }

    /// A body `write` produces through the writer it is given, in the calling coroutine,
    /// after the head went out: with `Content-Length: length` when `length` is given (the
    /// writer must then write exactly that many bytes), else chunked, each write a chunk.
    /// A streamed body is sent once: a 307/308 redirect after it is returned, not followed.
    public static func stream(length: Int? = nil, _ write: @escaping (HTTPClientBodyWriter) throws -> Void) -> HTTPClientRequestBody {
        precondition((length ?? 0) >= 0, "a negative request body length")
        return HTTPClientRequestBody(storage: .stream(length: length, write: write))
    }

    var isReplayable: Bool {
        if case .bytes = storage { return true }
        return false
    }
}
