import WeaveIO

/// One pooled connection of an ``HTTPClient`` (TCP, or TLS over TCP) with its read buffer,
/// which outlives a response: bytes read past one response would belong to the next (a
/// server that sends them is not reused, see ``HTTPClientResponse``).
final class HTTPClientConnection {
    let stream: any ByteStream
    let key: HTTPClientPool.Key
    var input: HTTPInputBuffer
    var output: [UInt8] = []
    /// When the connection last went back to the pool.
    var idleSince = ContinuousClock.now
    /// Requests sent on it, for statistics.
    var requestCount = 0
    /// Whether any byte of the response under way was received.
    var receivedAny = false

    init(stream: any ByteStream, key: HTTPClientPool.Key) {
        self.stream = stream
        self.key = key
        input = HTTPInputBuffer(capacity: 16 * 1024)
    }

    /// Reads what the stream has into the buffer; false when the peer ended the stream.
    func fill(timeout: Duration?) throws -> Bool {
        let tail = input.tail(minimum: 4096)
        let count = try stream.read(into: tail, timeout: timeout)
        if count == 0 { return false }
        receivedAny = true
        input.commit(count)
        return true
    }
}
