import CLibUV
import Glibc

/// A TCP connection whose reads and writes block the calling coroutine only (gevent's
/// cooperative `socket`).
///
/// Reading keeps libuv reading into a per-connection buffer, with backpressure: once
/// ``readAheadLimit`` bytes wait unread, reading pauses until the consumer catches up.
/// Writing tries the kernel directly (`uv_try_write`) and parks only when its buffer is full.
/// `TCP_NODELAY` is on by default. A connection belongs to the hub it was made on; use it
/// from that hub's coroutines, one reader and one writer at a time (each may be a
/// different coroutine). Closing it wakes a blocked reader or writer with
/// ``IOError/Code/closed``; the handle is freed once libuv is done with it.
public final class TCPConnection: HubResource, WaitTarget, CustomStringConvertible {
    /// The hub outlives its connections (it closes them all at shutdown).
    unowned(unsafe) let hub: Hub
    /// Freed in the close callback, once libuv is done with it.
    let handle: UnsafeMutablePointer<uv_tcp_t>
    private var buffer = ReadBuffer()
    private var isReading = false
    private var reachedEnd = false
    private var readError: UVError?
    private var readers = WaitQueue()
    /// Writes handed to libuv and not yet completed.
    private var pendingWrites = 0
    public private(set) var isClosed = false
    /// Unread bytes at which reading pauses (backpressure). Default 256 KiB.
    public var readAheadLimit = 256 * 1024
    /// The peer's address, read when the connection was made.
    public let peerAddress: SocketAddress?
    /// This side's address.
    public let localAddress: SocketAddress?

    /// Takes over an initialised, connected `uv_tcp_t`.
    init(hub: Hub, handle: UnsafeMutablePointer<uv_tcp_t>, noDelay: Bool = true) {
        self.handle = handle
        self.peerAddress = TCPConnection.address(of: handle, peer: true)
        self.localAddress = TCPConnection.address(of: handle, peer: false)
        self.hub = hub
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        if noDelay { uv_tcp_nodelay(handle, 1) }
        hub.register(self)
    }

    deinit {
        close()
        buffer.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    // MARK: - Connecting

    /// Connects to `host:port`, resolving the name cooperatively first; tries each address
    /// in turn. `TCP_NODELAY` is on unless `noDelay` is false.
    ///
    /// Throws ``UVError`` (`connect 127.0.0.1:9: ECONNREFUSED`), ``TimeoutError`` after
    /// `timeout` (covering resolution and connection), `CancellationError` if cancelled.
    public static func connect(host: String, port: Int, timeout: Duration? = nil, noDelay: Bool = true) throws -> TCPConnection {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let addresses = try resolve(host: host, port: port, timeout: timeout)
        var lastError: (any Error)?
        for address in addresses {
            do {
                return try connect(to: address, timeout: deadline.map { $0 - .now }, noDelay: noDelay)
            } catch let error as UVError {
                lastError = error
            }
        }
        throw lastError ?? IOError(.noAddress, "connect \(host):\(port): no address to try")
    }

    /// Connects to `address`; see ``connect(host:port:timeout:noDelay:)``.
    public static func connect(to address: SocketAddress, timeout: Duration? = nil, noDelay: Bool = true) throws -> TCPConnection {
        let coroutine = try AnyCoroutine.requireCurrent("TCPConnection.connect")
        let hub = coroutine.hub
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(hub.loop, handle)
        let request = ConnectRequest(waiter: coroutine)
        let status = address.withSockaddr { uv_tcp_connect(request.request, handle, $0, connectCallback) }
        guard status == 0 else {
            request.release()
            closeAndFree(handle)
            throw UVError(status, operation: "connect", argument: address.description)
        }
        defer { request.waiter = nil }
        while !request.isDone {
            do {
                try coroutine.park(.other("connect \(address)"), timeout: timeout)
            } catch {
                // Closing the handle cancels the request; its callback still runs and frees it.
                closeAndFree(handle)
                throw error
            }
        }
        guard request.status == 0 else {
            closeAndFree(handle)
            throw UVError(request.status, operation: "connect", argument: address.description)
        }
        return TCPConnection(hub: hub, handle: handle, noDelay: noDelay)
    }

    // MARK: - Reading

    /// Copies up to `buffer.count` bytes into `buffer`, waiting until at least one byte is
    /// there. Returns 0 once the peer has closed its side and everything was read.
    ///
    /// Throws ``UVError`` for a failed read (a peer reset: `ECONNRESET`), ``IOError/Code/closed``
    /// if this side closed the connection, ``TimeoutError``, `CancellationError` (the
    /// connection stays usable).
    public func read(into target: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) throws -> Int {
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
    public func read(upTo maxBytes: Int = 64 * 1024, timeout: Duration? = nil) throws -> [UInt8] {
        try waitForData(atLeast: 1, timeout: timeout)
        let count = min(buffer.count, maxBytes)
        let bytes = [UInt8](buffer.readable.prefix(count))
        consume(count)
        return bytes
    }

    /// Returns exactly `count` bytes, waiting as needed. Throws ``IOError/Code/unexpectedEnd``
    /// if the stream ends first (the bytes that did arrive stay readable).
    public func read(exactly count: Int, timeout: Duration? = nil) throws -> [UInt8] {
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
    public func readLine(maxLength: Int = 64 * 1024, timeout: Duration? = nil) throws -> String? {
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
    public func withReadableBytes(
        atLeast count: Int = 1, timeout: Duration? = nil, _ body: (UnsafeRawBufferPointer) throws -> Int
    ) throws {
        try waitForData(atLeast: max(1, count), timeout: timeout)
        let consumed = try body(buffer.readable)
        consume(min(max(0, consumed), buffer.count))
    }

    /// Waits until `count` bytes are buffered, or the stream ended (then fewer are).
    private func waitForData(atLeast count: Int, timeout: Duration?) throws {
        if buffer.count >= count { return }
        if isClosed { throw closedError() }
        if let readError { throw readError }
        if reachedEnd { return }
        try startReading()
        let coroutine = try AnyCoroutine.requireCurrent("TCPConnection.read")
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

    private func startReading() throws {
        guard !isReading, !reachedEnd, !isClosed else { return }
        let status = uv_read_start(stream, readAllocate, readCallback)
        guard status == 0 else { throw UVError(status, operation: "read", argument: "\(self)") }
        isReading = true
    }

    private func consume(_ count: Int) {
        buffer.consume(count)
        // Resume reading once the consumer has caught up (backpressure released).
        if !isReading && !reachedEnd && !isClosed && readError == nil && buffer.count < readAheadLimit / 2 && !readers.isEmpty {
            try? startReading()
        }
    }

    fileprivate func allocate() -> uv_buf_t {
        let space = buffer.reserveTail(minimum: 4096)
        return uv_buf_init(space.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self), UInt32(min(space.count, 64 * 1024)))
    }

    fileprivate func didRead(_ count: Int) {
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
    /// connection (the stream would be corrupt otherwise).
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        var offset = 0
        if pendingWrites == 0 {
            while offset < bytes.count {
                var chunk = uv_buf_init(
                    UnsafeMutablePointer(mutating: bytes.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self) + offset),
                    UInt32(bytes.count - offset))
                let written = uv_try_write(stream, &chunk, 1)
                if written > 0 {
                    offset += Int(written)
                } else if written == UV_EAGAIN.rawValue || written == 0 {
                    break
                } else {
                    throw UVError(written, operation: "write", argument: "\(self)")
                }
            }
        }
        if offset == bytes.count { return }
        try writeQueued(UnsafeRawBufferPointer(rebasing: bytes[offset...]), timeout: timeout)
    }

    /// Writes all of `bytes`; see ``write(_:timeout:)-(UnsafeRawBufferPointer,_)``.
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) throws {
        try bytes.withUnsafeBytes { try write($0, timeout: timeout) }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String, timeout: Duration? = nil) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0), timeout: timeout) }
    }

    /// The slow path: copies what the kernel did not take into a request that lives until
    /// libuv's callback, and parks until it completes.
    private func writeQueued(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws {
        let coroutine = try AnyCoroutine.requireCurrent("TCPConnection.write")
        let request = WriteRequest(copying: bytes, connection: self, coroutine: coroutine)
        var chunk = uv_buf_init(request.bytes.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_write(request.request, stream, &chunk, 1, writeCallback)
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

    fileprivate func writeCompleted() {
        pendingWrites -= 1
    }

    /// Closes the sending side (`shutdown(SHUT_WR)`) once queued writes are flushed; the
    /// peer then reads the end of the stream, and this side can still read.
    public func shutdownWrite(timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        let coroutine = try AnyCoroutine.requireCurrent("TCPConnection.shutdownWrite")
        let request = ShutdownRequest(waiter: coroutine)
        let status = uv_shutdown(request.request, stream, shutdownCallback)
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

    // MARK: - Options and closing

    /// The socket's file descriptor while open (for options libuv does not wrap).
    var fileDescriptor: Int32? {
        guard !isClosed else { return nil }
        var fd: uv_os_fd_t = -1
        let status = uv_fileno(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), &fd)
        return status == 0 ? fd : nil
    }

    /// Turns `TCP_NODELAY` on or off.
    public func setNoDelay(_ enabled: Bool) throws {
        if isClosed { throw closedError() }
        let status = uv_tcp_nodelay(handle, enabled ? 1 : 0)
        if status != 0 { throw UVError(status, operation: "setNoDelay", argument: "\(self)") }
    }

    /// Turns TCP keep-alive probes on (after `idle` without traffic) or off (nil).
    public func setKeepAlive(_ idle: Duration?) throws {
        if isClosed { throw closedError() }
        let seconds = UInt32(clamping: max(1, idle?.components.seconds ?? 0))
        let status = uv_tcp_keepalive(handle, idle == nil ? 0 : 1, seconds)
        if status != 0 { throw UVError(status, operation: "setKeepAlive", argument: "\(self)") }
    }

    /// Closes the connection. A coroutine blocked reading or writing gets
    /// ``IOError/Code/closed``; unsent queued bytes are dropped. Closing twice does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if isReading {
            uv_read_stop(stream)
            isReading = false
        }
        handle.pointee.data = nil
        TCPConnection.closeAndFree(handle)
        hub.unregister(self)
        // A parked writer wakes through its request, which the close cancels.
        readers.signalAll()
    }

    func closeForShutdown() { close() }

    private static func closeAndFree(_ handle: UnsafeMutablePointer<uv_tcp_t>) {
        let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        guard uv_is_closing(raw) == 0 else { return }
        uv_close(raw) { UnsafeMutableRawPointer($0)?.deallocate() }
    }

    private func closedError() -> IOError {
        IOError(.closed, "\(self) is closed")
    }

    private static func address(of handle: UnsafeMutablePointer<uv_tcp_t>, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? uv_tcp_getpeername(handle, $0, &length) : uv_tcp_getsockname(handle, $0, &length)
            }
        }
        return status == 0 ? SocketAddress(storage) : nil
    }

    var waitDescription: String {
        "TCPConnection \(localAddress?.description ?? "?") <- \(peerAddress?.description ?? "?")"
    }

    public var description: String { waitDescription }
}

// MARK: - libuv callbacks and request boxes

private let readAllocate: uv_alloc_cb = { handle, _, buffer in
    guard let data = handle?.pointee.data else {
        buffer?.pointee = uv_buf_init(nil, 0)
        return
    }
    buffer?.pointee = Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().allocate()
}

private let readCallback: uv_read_cb = { stream, count, _ in
    guard let data = stream?.pointee.data else { return }
    Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().didRead(count)
}

private typealias ConnectRequest = PendingRequest<uv_connect_t>
private typealias ShutdownRequest = PendingRequest<uv_shutdown_t>

private let connectCallback: uv_connect_cb = { request, status in
    ConnectRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}

private let shutdownCallback: uv_shutdown_cb = { request, status in
    ShutdownRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}

/// A `uv_write_t` with its private copy of the bytes.
private final class WriteRequest: PendingRequest<uv_write_t> {
    let bytes: UnsafeMutableRawPointer
    /// Kept alive until the request completes (closing it completes them with ECANCELED).
    let connection: TCPConnection

    init(copying source: UnsafeRawBufferPointer, connection: TCPConnection, coroutine: AnyCoroutine) {
        bytes = .allocate(byteCount: max(1, source.count), alignment: 1)
        bytes.copyMemory(from: source.baseAddress.unsafelyUnwrapped, byteCount: source.count)
        self.connection = connection
        super.init(waiter: coroutine)
    }

    override func didComplete() { connection.writeCompleted() }

    deinit { bytes.deallocate() }
}

private let writeCallback: uv_write_cb = { request, status in
    WriteRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}
