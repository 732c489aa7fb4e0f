import CLibUV
import Glibc
import WeaveCore

/// A byte stream over a libuv stream handle (`uv_tcp_t`, `uv_pipe_t`) whose reads and writes
/// block the calling coroutine only: the common core of ``TCPConnection``, ``UnixConnection``
/// and process pipes.
///
/// Reading keeps libuv reading into a per-connection buffer, with backpressure: once
/// ``readAheadLimit`` bytes wait unread, reading pauses until the consumer catches up.
/// Writing tries the kernel directly (`uv_try_write`) and parks only when its buffer is full.
/// A stream belongs to the hub it was made on; use it from that hub's coroutines, one reader
/// and one writer at a time (each may be a different coroutine). Closing it wakes a blocked
/// reader or writer with ``IOError/Code/closed``; the handle is freed once libuv is done with it.
///
/// Not open: the subclasses live in WeaveIO, and every method is `final` so that the read and
/// write paths stay statically dispatched.
public class StreamConnection: HubResource, WaitTarget, CustomStringConvertible {
    /// The hub outlives its streams (it closes them all at shutdown).
    unowned(unsafe) final let hub: Hub
    /// The `uv_tcp_t` or `uv_pipe_t` seen as a stream. Owned from `init` on; freed in its
    /// close callback, once libuv is done with it.
    final let stream: UnsafeMutablePointer<uv_stream_t>
    private final var buffer = ReadBuffer()
    private final var isReading = false
    private final var reachedEnd = false
    private final var readError: UVError?
    private final var readers = WaitQueue()
    /// Writes handed to libuv and not yet completed.
    private final var pendingWrites = 0
    /// Whether ``close()`` was called (by this side).
    public private(set) final var isClosed = false
    /// Unread bytes at which reading pauses (backpressure). Default 256 KiB.
    public final var readAheadLimit = 256 * 1024

    /// Takes over an initialised stream handle (`uv_tcp_t`, `uv_pipe_t`, `uv_tty_t`) of
    /// `hub`'s loop, allocated with `UnsafeMutablePointer.allocate`: from now on it is closed
    /// by ``close()`` (at the latest at deinit or hub shutdown) and freed in its close callback.
    package init(hub: Hub, stream: UnsafeMutablePointer<uv_stream_t>) {
        self.hub = hub
        self.stream = stream
        stream.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    /// Takes over an initialised `uv_pipe_t` (from `uv_spawn` with `UV_CREATE_PIPE`, or
    /// `uv_pipe_open` over an fd); see ``init(hub:stream:)``.
    convenience init(hub: Hub, pipe: UnsafeMutablePointer<uv_pipe_t>) {
        self.init(hub: hub, stream: UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self))
    }

    /// Takes over an initialised, connected `uv_tcp_t`; see ``init(hub:stream:)``.
    convenience init(hub: Hub, tcp: UnsafeMutablePointer<uv_tcp_t>) {
        self.init(hub: hub, stream: UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self))
    }

    deinit {
        close()
        buffer.deallocate()
    }

    // MARK: - Reading

    /// Copies up to `buffer.count` bytes into `buffer`, waiting until at least one byte is
    /// there. Returns 0 once the peer has closed its side and everything was read.
    ///
    /// Throws ``UVError`` for a failed read (a peer reset: `ECONNRESET`), ``IOError/Code/closed``
    /// if this side closed the stream, ``TimeoutError``, `CancellationError` (the stream stays
    /// usable).
    public final func read(into target: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) throws -> Int {
        guard target.count > 0 else { return 0 }
        try waitForData(atLeast: 1, timeout: timeout)
        let count = min(buffer.count, target.count)
        if count > 0 {
            target.baseAddress.unsafelyUnwrapped.copyMemory(from: buffer.readable.baseAddress.unsafelyUnwrapped, byteCount: count)
            consume(count)
        }
        return count
    }

    /// Returns up to `maxBytes` bytes, waiting for at least one; empty at the end of the stream.
    public final func read(upTo maxBytes: Int = 64 * 1024, timeout: Duration? = nil) throws -> [UInt8] {
        try waitForData(atLeast: 1, timeout: timeout)
        let count = min(buffer.count, maxBytes)
        let bytes = [UInt8](buffer.readable.prefix(count))
        consume(count)
        return bytes
    }

    /// Returns exactly `count` bytes, waiting as needed. Throws ``IOError/Code/unexpectedEnd``
    /// if the stream ends first (the bytes that did arrive stay readable).
    public final func read(exactly count: Int, timeout: Duration? = nil) throws -> [UInt8] {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        try waitForData(atLeast: count, timeout: deadline.map { $0 - .now })
        guard buffer.count >= count else {
            throw IOError(.unexpectedEnd, "\(self): stream ended after \(buffer.count) of \(count) bytes")
        }
        let bytes = [UInt8](buffer.readable.prefix(count))
        consume(count)
        return bytes
    }

    /// Returns the next line without its `\n` (and `\r`), waiting as needed; nil at the end
    /// of the stream (a last line without newline is returned first).
    ///
    /// Throws ``IOError/Code/lineTooLong`` when no newline arrives within `maxLength` bytes;
    /// those bytes stay buffered, so the caller can answer and close, or read them.
    public final func readLine(maxLength: Int = 64 * 1024, timeout: Duration? = nil) throws -> String? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var searched = 0
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n"), from: searched) {
                guard newline <= maxLength else { break }
                var lineEnd = newline
                if lineEnd > 0 && buffer.readable[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                let line = String(decoding: UnsafeRawBufferPointer(rebasing: buffer.readable[..<lineEnd]), as: UTF8.self)
                consume(newline + 1)
                return line
            }
            searched = buffer.count
            if searched > maxLength { break }
            if reachedEnd || readError != nil || isClosed {
                if let readError { throw readError }
                if isClosed { throw closedError() }
                if buffer.isEmpty { return nil }
                let line = String(decoding: buffer.readable, as: UTF8.self)
                consume(buffer.count)
                return line
            }
            try waitForData(atLeast: searched + 1, timeout: deadline.map { $0 - .now })
        }
        throw IOError(.lineTooLong, "\(self): no newline within \(maxLength) bytes")
    }

    /// Gives `body` the bytes read so far, once at least `count` are buffered, and drops as
    /// many as it returns: parsing without copying. A parser that needs more than it was
    /// given asks for one byte more than it saw. `body` gets fewer bytes (possibly none)
    /// only at the end of the stream; it must not block (the buffer may move once the
    /// coroutine parks).
    public final func withUnsafeReadableBytes(
        atLeast count: Int = 1, timeout: Duration? = nil, _ body: (UnsafeRawBufferPointer) throws -> Int
    ) throws {
        try waitForData(atLeast: max(1, count), timeout: timeout)
        let consumed = try body(buffer.readable)
        consume(min(max(0, consumed), buffer.count))
    }

    /// Waits until `count` bytes are buffered, or the stream ended (then fewer are).
    private final func waitForData(atLeast count: Int, timeout: Duration?) throws {
        if buffer.count >= count { return }
        if isClosed { throw closedError() }
        if let readError { throw readError }
        if reachedEnd { return }
        try startReading()
        let coroutine = try AnyCoroutine.requireCurrent("StreamConnection.read")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while buffer.count < count && !reachedEnd && readError == nil && !isClosed {
            // A read that waits for more than the read-ahead limit must not be throttled.
            if !isReading { try startReading() }
            try coroutine.wait(on: self, "read", timeout: deadline.map { $0 - .now },
                               enqueue: { readers.append($0) }, dequeue: { readers.remove($0) })
        }
        if isClosed { throw closedError() }
        if buffer.count >= count { return }
        if let readError { throw readError }
    }

    private final func startReading() throws {
        guard !isReading, !reachedEnd, !isClosed else { return }
        let status = uv_read_start(stream, streamReadAllocate, streamReadCallback)
        guard status == 0 else { throw UVError(status, operation: "read", argument: "\(self)") }
        isReading = true
    }

    private final func consume(_ count: Int) {
        buffer.consume(count)
        // Resume reading once the consumer has caught up (backpressure released).
        if !isReading && !reachedEnd && !isClosed && readError == nil && buffer.count < readAheadLimit / 2 && !readers.isEmpty {
            try? startReading()
        }
    }

    fileprivate final func allocate() -> uv_buf_t {
        let space = buffer.reserveTail(minimum: 4096)
        return uv_buf_init(space.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self), UInt32(min(space.count, 64 * 1024)))
    }

    fileprivate final func didRead(_ count: Int) {
        if count > 0 {
            buffer.commit(count)
            if buffer.count >= readAheadLimit {
                uv_read_stop(stream)
                isReading = false
            }
        } else if count == Int(UV_EOF.rawValue) {
            reachedEnd = true
            uv_read_stop(stream)
            isReading = false
        } else if count < 0 {
            readError = UVError(Int32(count), operation: "read", argument: "\(self)")
            uv_read_stop(stream)
            isReading = false
        } else {
            return  // EAGAIN: nothing read
        }
        readers.signalAll()
    }

    // MARK: - Writing

    /// Writes all of `bytes`, parking only while the kernel's send buffer is full.
    ///
    /// Throws ``UVError`` (a peer reset: `EPIPE`, `ECONNRESET`), ``IOError/Code/closed``,
    /// ``TimeoutError`` and `CancellationError`; a write interrupted half-way closes the
    /// stream (it would be corrupt otherwise).
    public final func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        var offset = 0
        if pendingWrites == 0 {
            let (written, status) = writeWithoutBlocking(stream, bytes)
            offset = written
            if status != 0 { throw UVError(status, operation: "write", argument: "\(self)") }
        }
        if offset == bytes.count { return }
        try writeQueued(UnsafeRawBufferPointer(rebasing: bytes[offset...]), timeout: timeout)
    }

    /// Writes all of `bytes`; see ``write(_:timeout:)-(UnsafeRawBufferPointer,_)``.
    public final func write(_ bytes: [UInt8], timeout: Duration? = nil) throws {
        try bytes.withUnsafeBytes { try write($0, timeout: timeout) }
    }

    /// Writes `text` as UTF-8.
    public final func write(_ text: String, timeout: Duration? = nil) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0), timeout: timeout) }
    }

    /// The slow path: copies what the kernel did not take into a request that lives until
    /// libuv's callback, and parks until it completes.
    private final func writeQueued(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws {
        let coroutine = try AnyCoroutine.requireCurrent("StreamConnection.write")
        let request = WriteRequest(copying: bytes, connection: self, coroutine: coroutine)
        var chunk = uv_buf_init(request.bytes.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_write(request.request, stream, &chunk, 1, streamWriteCallback)
        guard status == 0 else {
            request.release()
            throw UVError(status, operation: "write", argument: "\(self)")
        }
        pendingWrites += 1
        defer { request.waiter = nil }
        while !request.isDone {
            do {
                try coroutine.park(.primitive(self, "write"), timeout: timeout)
            } catch {
                // Part of the bytes may be on the wire: the stream can no longer be trusted.
                close()
                throw error
            }
        }
        if isClosed { throw closedError() }
        if request.status != 0 { throw UVError(request.status, operation: "write", argument: "\(self)") }
    }

    fileprivate final func writeCompleted() {
        pendingWrites -= 1
    }

    /// Closes the sending side (`shutdown(SHUT_WR)`) once queued writes are flushed; the
    /// peer then reads the end of the stream, and this side can still read.
    ///
    /// Throws ``UVError``, ``IOError/Code/closed``, ``TimeoutError``, `CancellationError`.
    public final func shutdownWrite(timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        let coroutine = try AnyCoroutine.requireCurrent("StreamConnection.shutdownWrite")
        let request = ShutdownRequest(waiter: coroutine)
        let status = uv_shutdown(request.request, stream, streamShutdownCallback)
        guard status == 0 else {
            request.release()
            throw UVError(status, operation: "shutdown", argument: "\(self)")
        }
        defer { request.waiter = nil }
        while !request.isDone {
            try coroutine.park(.primitive(self, "shutdown"), timeout: timeout)
        }
        if request.status != 0 && request.status != UV_ECANCELED.rawValue {
            throw UVError(request.status, operation: "shutdown", argument: "\(self)")
        }
    }

    // MARK: - Closing

    /// The file descriptor while open (for options libuv does not wrap). Never close it
    /// yourself: ``close()`` does.
    final var fileDescriptor: Int32? {
        guard !isClosed else { return nil }
        var fd: uv_os_fd_t = -1
        let status = uv_fileno(UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_handle_t.self), &fd)
        return status == 0 ? fd : nil
    }

    /// Closes the stream. A coroutine blocked reading or writing gets
    /// ``IOError/Code/closed``; unsent queued bytes are dropped. Closing twice does nothing.
    public final func close() {
        guard !isClosed else { return }
        isClosed = true
        // Stop reading before the close, so no read callback reaches a closing stream.
        if isReading {
            uv_read_stop(stream)
            isReading = false
        }
        stream.pointee.data = nil
        closeAndFreeHandle(stream)
        hub.unregister(self)
        // A parked writer wakes through its request, which the close cancels.
        readers.signalAll()
    }

    package final func closeForShutdown() { close() }

    final func closedError() -> IOError {
        IOError(.closed, "\(self) is closed")
    }

    /// How the stream describes itself in errors and deadlock reports; subclasses say what
    /// they connect.
    package var waitDescription: String { "stream" }

    public final var description: String { waitDescription }

    // MARK: - Connecting (shared by subclasses)

    /// Waits for `request`, submitted on `handle`, to complete. On failure, cancellation or
    /// timeout the handle is closed (which cancels the request; its callback still runs and
    /// frees it) and the error thrown names `operation` and `argument`.
    static func awaitConnect(
        _ request: ConnectRequest, handle: UnsafeMutablePointer<uv_stream_t>, coroutine: AnyCoroutine,
        timeout: Duration?, argument: String
    ) throws {
        defer { request.waiter = nil }
        while !request.isDone {
            do {
                try coroutine.park(.other("connect \(argument)"), timeout: timeout)
            } catch {
                closeAndFreeHandle(handle)
                throw error
            }
        }
        guard request.status == 0 else {
            closeAndFreeHandle(handle)
            throw UVError(request.status, operation: "connect", argument: argument)
        }
    }
}

/// Closes a handle this module allocated with `UnsafeMutablePointer.allocate` and frees its
/// memory in the close callback (libuv may touch the handle until then). Idempotent.
package func closeAndFreeHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
    let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
    guard uv_is_closing(raw) == 0 else { return }
    uv_close(raw) { UnsafeMutableRawPointer($0)?.deallocate() }
}

/// Writes as much of `bytes` as the kernel takes now (`uv_try_write`, never parks): returns
/// how many bytes went, and a libuv error status (0 when none; EAGAIN is not an error).
@inlinable @inline(__always)
package func writeWithoutBlocking(_ stream: UnsafeMutablePointer<uv_stream_t>, _ bytes: UnsafeRawBufferPointer) -> (written: Int, status: Int32) {
    var offset = 0
    while offset < bytes.count {
        var chunk = uv_buf_init(
            UnsafeMutablePointer(mutating: bytes.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self) + offset),
            UInt32(clamping: bytes.count - offset))
        let written = uv_try_write(stream, &chunk, 1)
        if written > 0 {
            offset += Int(written)
        } else if written == UV_EAGAIN.rawValue || written == 0 {
            break
        } else {
            return (offset, written)
        }
    }
    return (offset, 0)
}

// MARK: - libuv callbacks and request boxes

private let streamReadAllocate: uv_alloc_cb = { handle, _, buffer in
    guard let data = handle?.pointee.data else {
        buffer?.pointee = uv_buf_init(nil, 0)
        return
    }
    buffer?.pointee = Unmanaged<StreamConnection>.fromOpaque(data).takeUnretainedValue().allocate()
}

private let streamReadCallback: uv_read_cb = { stream, count, _ in
    guard let data = stream?.pointee.data else { return }
    Unmanaged<StreamConnection>.fromOpaque(data).takeUnretainedValue().didRead(count)
}

typealias ConnectRequest = PendingRequest<uv_connect_t>
private typealias ShutdownRequest = PendingRequest<uv_shutdown_t>

let connectCallback: uv_connect_cb = { request, status in
    ConnectRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}

private let streamShutdownCallback: uv_shutdown_cb = { request, status in
    ShutdownRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}

/// A `uv_write_t` with its private copy of the bytes.
private final class WriteRequest: PendingRequest<uv_write_t> {
    let bytes: UnsafeMutableRawPointer
    /// Kept alive until the request completes (closing it completes them with ECANCELED).
    let connection: StreamConnection

    init(copying source: UnsafeRawBufferPointer, connection: StreamConnection, coroutine: AnyCoroutine) {
        bytes = .allocate(byteCount: max(1, source.count), alignment: 1)
        bytes.copyMemory(from: source.baseAddress.unsafelyUnwrapped, byteCount: source.count)
        self.connection = connection
        super.init(waiter: coroutine)
    }

    override func didComplete() { connection.writeCompleted() }

    deinit { bytes.deallocate() }
}

private let streamWriteCallback: uv_write_cb = { request, status in
    WriteRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}
