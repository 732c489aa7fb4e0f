import HTTPTypes
import WeaveCore
import WeaveIO

/// A response received by ``HTTPClient``: the head, and the body still on the connection,
/// read with ``read(into:)`` or ``readAll(maxBytes:)``.
///
/// The connection goes back to the pool once the body has been read to its end (and the
/// server did not say `Connection: close`). A response dropped or ``close()``d before that
/// closes its connection instead: a half-read body cannot be skipped safely. Use it from
/// the coroutine (hub) that made the request.
public final class HTTPClientResponse {
    private enum Body {
        case done
        case length(remaining: Int)
        case chunked
        case untilClose
    }

    /// The status line and header fields.
    public let head: HTTPResponse
    /// The URL that answered, after any redirects.
    public let url: String
    /// Redirects followed to get here.
    public let redirectCount: Int

    private var connection: HTTPClientConnection?
    private let pool: HTTPClientPool
    private let keepAlive: Bool
    private var body: Body
    private var decoder = HTTPChunkedDecoder()
    private let readTimeout: Duration
    private let deadline: ContinuousClock.Instant?
    /// Body bytes read so far.
    public private(set) var bytesRead = 0

    /// The status.
    public var status: HTTPResponse.Status { head.status }
    /// The header fields.
    public var headerFields: HTTPFields { head.headerFields }
    /// Whether the body has been read to its end (or there is none).
    public var isComplete: Bool {
        if case .done = body { return true }
        return false
    }
    /// The body's length when the server gave it (`Content-Length`, or 0 for none).
    public var expectedContentLength: Int? {
        switch body {
        case .length(let remaining): bytesRead + remaining
        case .done: bytesRead
        case .chunked, .untilClose: nil
        }
    }

    init(head: HTTPResponseHead, url: HTTPClientURL, redirectCount: Int, connection: HTTPClientConnection, pool: HTTPClientPool,
         readTimeout: Duration, deadline: ContinuousClock.Instant?) {
        self.head = head.response
        self.url = url.description
        self.redirectCount = redirectCount
        self.connection = connection
        self.pool = pool
        self.keepAlive = head.keepAlive && head.response.status.code != 101
        self.readTimeout = readTimeout
        self.deadline = deadline
        switch head.framing {
        case .none: body = .done
        case .length(let count): body = .length(remaining: count)
        case .chunked: body = .chunked
        case .untilClose: body = .untilClose
        }
        if case .done = body { finish(reusable: true) }
    }

    deinit { close() }

    /// Copies up to `buffer.count` body bytes into `buffer`, waiting for at least one;
    /// returns 0 at the end of the body (then the connection is back in the pool).
    ///
    /// Blocks the calling coroutine for at most the client's read timeout per read (and the
    /// request's total timeout). Throws ``HTTPClientError`` (``HTTPClientError/Code/timedOut``,
    /// ``HTTPClientError/Code/connectionClosed`` when the server closes mid-body,
    /// ``HTTPClientError/Code/responseMalformed`` for bad chunked framing), after which the
    /// connection is closed; `CancellationError`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let connection, !buffer.isEmpty else { return 0 }
        do {
            switch body {
            case .done:
                return 0
            case .length(let remaining):
                let count = try readRaw(connection, into: buffer, limit: remaining)
                guard count > 0 else {
                    throw HTTPClientError(.connectionClosed, "\(url): the server closed the connection with \(remaining) body bytes to come")
                }
                bytesRead += count
                body = .length(remaining: remaining - count)
                if remaining == count { finish(reusable: keepAlive) }
                return count
            case .untilClose:
                let count = try readRaw(connection, into: buffer, limit: .max)
                if count == 0 { finish(reusable: false) }
                bytesRead += count
                return count
            case .chunked:
                while true {
                    let step = try decoder.next(connection.input.readable, maxCount: buffer.count)
                    switch step {
                    case .data(let offset, let count):
                        buffer.baseAddress!.copyMemory(from: connection.input.readable.baseAddress! + offset, byteCount: count)
                        connection.input.consume(offset + count)
                        bytesRead += count
                        return count
                    case .needMore(let consumed):
                        connection.input.consume(consumed)
                        guard try connection.fill(timeout: try remainingTime()) else {
                            throw HTTPClientError(.connectionClosed, "\(url): the server closed the connection inside a chunked body")
                        }
                    case .end(let consumed):
                        connection.input.consume(consumed)
                        finish(reusable: keepAlive)
                        return 0
                    }
                }
            }
        } catch {
            close()
            throw HTTPClient.mapped(error, url)
        }
    }

    /// Reads the rest of the body. Throws ``HTTPClientError/Code/bodyTooLarge`` (closing the
    /// connection) when it is longer than `maxBytes`; otherwise as ``read(into:)``.
    public func readAll(maxBytes: Int = 16 << 20) throws -> [UInt8] {
        if let expected = expectedContentLength, expected - bytesRead > maxBytes {
            close()
            throw HTTPClientError(.bodyTooLarge, "\(url): body of \(expected) bytes, more than \(maxBytes)")
        }
        if case .length(let remaining) = body {
            // Known length: one allocation, read straight into it.
            var failure: (any Error)?
            let bytes = [UInt8](unsafeUninitializedCapacity: remaining) { buffer, count in
                do {
                    while count < remaining {
                        let read = try read(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[count...]))
                        if read == 0 { break }
                        count += read
                    }
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return bytes
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if count == 0 { return bytes }
            guard bytes.count + count <= maxBytes else {
                close()
                throw HTTPClientError(.bodyTooLarge, "\(url): body longer than \(maxBytes) bytes")
            }
            bytes += chunk[..<count]
        }
    }

    /// Reads the rest of the body as UTF-8 text (invalid sequences repaired); see ``readAll(maxBytes:)``.
    public func text(maxBytes: Int = 16 << 20) throws -> String {
        String(decoding: try readAll(maxBytes: maxBytes), as: UTF8.self)
    }

    /// Gives up on the rest of the body: the connection is closed (not reused) unless the
    /// body was already read to its end. Never blocks; calling it twice does nothing.
    public func close() {
        guard let connection else { return }
        self.connection = nil
        body = .done
        pool.release(connection, reusable: false)
    }

    /// Reads and drops the rest of a short body so the connection can be reused (a
    /// redirect's), or closes the connection when more than `limit` bytes are left.
    func discard(limit: Int) {
        if let expected = expectedContentLength, expected - bytesRead > limit {
            close()
            return
        }
        _ = try? readAll(maxBytes: limit)
        close()
    }

    private func finish(reusable: Bool) {
        guard let connection else { return }
        self.connection = nil
        body = .done
        // Bytes past the response from a server that was asked nothing: do not trust it.
        pool.release(connection, reusable: reusable && connection.input.isEmpty)
    }

    /// Body bytes from the buffer if it holds any, else straight from the stream.
    private func readRaw(_ connection: HTTPClientConnection, into buffer: UnsafeMutableRawBufferPointer, limit: Int) throws -> Int {
        let wanted = min(buffer.count, limit)
        if !connection.input.isEmpty {
            let readable = connection.input.readable
            let count = min(wanted, readable.count)
            buffer.baseAddress!.copyMemory(from: readable.baseAddress!, byteCount: count)
            connection.input.consume(count)
            return count
        }
        return try connection.stream.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]), timeout: try remainingTime())
    }

    private func remainingTime() throws -> Duration {
        try HTTPClient.timeout(readTimeout, deadline: deadline, what: url)
    }
}
