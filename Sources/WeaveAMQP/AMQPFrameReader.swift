import WeaveIO

/// One frame as read: its type, channel and payload. The payload borrows the reader's
/// buffer and is valid until the reader's next call.
struct AMQPFrame {
    let type: UInt8
    let channel: UInt16
    let payload: UnsafeRawBufferPointer
}

/// Reads whole frames from a stream into a buffer it owns and reuses: one `read` brings in
/// as many frames as the kernel has, and each is handed out in place, without a copy.
final class AMQPFrameReader {
    /// Owned by this reader; freed in deinit. Grows to hold the largest frame seen.
    private var storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// The largest frame accepted, header and frame-end included (the negotiated `frame-max`).
    var frameMax: Int

    init(capacity: Int = 256 * 1024, frameMax: Int) {
        storage = .allocate(byteCount: capacity, alignment: 8)
        self.frameMax = frameMax
    }

    deinit { storage.deallocate() }

    /// Whether the next frame is already buffered (no read needed).
    var hasBufferedFrame: Bool {
        guard end - start >= AMQPFrameType.headerSize else { return false }
        return end - start >= AMQPFrameType.overhead + Int(payloadSize(at: start))
    }

    private func payloadSize(at offset: Int) -> UInt32 {
        storage.loadUnaligned(fromByteOffset: offset + 3, as: UInt32.self).bigEndian
    }

    /// The next frame, reading from `stream` as needed; nil when the stream ended cleanly
    /// between frames.
    ///
    /// - Throws: ``AMQPFrameError`` for a frame that is too large, of an unknown type or
    ///   without its frame-end; ``AMQPError/Code/connectionLost`` when the stream ends
    ///   inside a frame; the stream's errors (`TimeoutError` when `timeout` passes).
    func next<S: ByteStream>(from stream: S, timeout: Duration? = nil) throws -> AMQPFrame? {
        while true {
            if end - start >= AMQPFrameType.headerSize {
                let size = Int(payloadSize(at: start))
                guard size + AMQPFrameType.overhead <= frameMax else {
                    throw AMQPFrameError(.frameTooLarge, "a frame of \(size + AMQPFrameType.overhead) bytes, frame-max is \(frameMax)")
                }
                if end - start >= size + AMQPFrameType.overhead {
                    let type = storage[start]
                    guard type == AMQPFrameType.method || type == AMQPFrameType.header || type == AMQPFrameType.body
                        || type == AMQPFrameType.heartbeat
                    else { throw AMQPFrameError(.unknownFrameType, "frame type \(type)") }
                    guard storage[start + AMQPFrameType.headerSize + size] == AMQPFrameType.frameEnd else {
                        throw AMQPFrameError(.badFrameEnd, "frame of type \(type) and \(size) bytes ends with \(storage[start + AMQPFrameType.headerSize + size])")
                    }
                    let channel = UInt16(storage[start + 1]) << 8 | UInt16(storage[start + 2])
                    let payloadStart = start + AMQPFrameType.headerSize
                    start += size + AMQPFrameType.overhead
                    return AMQPFrame(type: type, channel: channel,
                                     payload: UnsafeRawBufferPointer(rebasing: storage[payloadStart..<(payloadStart + size)]))
                }
                makeRoom(for: size + AMQPFrameType.overhead)
            } else {
                makeRoom(for: AMQPFrameType.headerSize)
            }
            let count = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]), timeout: timeout)
            if count == 0 {
                if start == end { return nil }
                throw AMQPError(.connectionLost, "the broker closed the connection in the middle of a frame")
            }
            end += count
        }
    }

    /// Moves the unread bytes to the front (only when a frame would not fit behind them)
    /// and grows the buffer for a frame larger than it.
    private func makeRoom(for frameSize: Int) {
        if start == end {
            start = 0
            end = 0
        }
        if storage.count - start >= frameSize && storage.count > end { return }
        let pending = end - start
        if frameSize > storage.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frameSize, storage.count * 2), alignment: 8)
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[start..<end]))
            storage.deallocate()
            storage = grown
        } else if start > 0 {
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: pending)
        }
        start = 0
        end = pending
    }
}
