import CLibUV
import Glibc
import WeaveCore

/// A UDP socket whose sends and receives block the calling coroutine only.
///
/// ```swift
/// let socket = try UDPSocket.bind(host: "127.0.0.1", port: 0)
/// try socket.send("ping", to: server)
/// let reply = try socket.receive(timeout: .seconds(1))
/// ```
///
/// Receiving reads into one buffer per socket, reused for every datagram: each datagram
/// costs only the bytes returned. The socket reads from the kernel only while a coroutine
/// waits in ``receive(timeout:)``; datagrams that arrive meanwhile wait in the kernel's
/// buffer (and are dropped by it when that is full: UDP makes no promise). Sending tries
/// the kernel first (`uv_udp_try_send`) and parks only when its buffer is full. A socket
/// belongs to the hub it was made on.
public final class UDPSocket: HubResource, WaitTarget, CustomStringConvertible {
    unowned(unsafe) let hub: Hub
    /// Freed in its close callback.
    private let handle: UnsafeMutablePointer<uv_udp_t>
    /// The one receive buffer (64 KiB: the largest UDP payload); freed at deinit, after
    /// the handle is closed (libuv reads into it only while receiving).
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    /// Datagrams read but not yet taken: at most one per waiting receiver.
    private var inbox: [Datagram] = []
    private var receiveError: UVError?
    private var isReceiving = false
    private var receivers = WaitQueue()
    /// Whether ``close()`` was called.
    public private(set) var isClosed = false
    /// The bound address (with the actual port when bound to port 0).
    public private(set) var localAddress: SocketAddress?

    private init(hub: Hub) {
        self.hub = hub
        handle = .allocate(capacity: 1)
        uv_udp_init(hub.loop, handle)
        receiveBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    deinit {
        close()
        // The handle is closing: libuv never reads into the buffer again.
        receiveBuffer.deallocate()
    }

    /// Binds `host:port` (port 0 picks a free one).
    ///
    /// Throws ``UVError`` (`bind 127.0.0.1:53: EACCES`, `EADDRINUSE`), ``IOError`` for a bad
    /// address, `WeaveError` outside a hub.
    public static func bind(host: String = "127.0.0.1", port: Int = 0, reuseAddress: Bool = false) throws -> UDPSocket {
        let address = try resolve(host: host, port: port).first.unsafelyUnwrapped
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "UDPSocket.bind must be called inside Hub.run")
        }
        let socket = UDPSocket(hub: hub)
        let flags = reuseAddress ? UInt32(UV_UDP_REUSEADDR.rawValue) : 0
        let status = address.withSockaddr { uv_udp_bind(socket.handle, $0, flags) }
        guard status == 0 else {
            socket.close()
            throw UVError(status, operation: "bind", argument: address.description)
        }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_udp_getsockname(socket.handle, $0, &length) }
        }
        socket.localAddress = named == 0 ? SocketAddress(storage) : address
        return socket
    }

    // MARK: - Sending

    /// Sends `bytes` as one datagram to `address`, parking only while the kernel's buffer is full.
    ///
    /// Throws ``UVError`` (`send 10.0.0.1:9: EMSGSIZE` for a datagram too large,
    /// `ENETUNREACH`), ``IOError/Code/closed``, ``TimeoutError``, `CancellationError` (the
    /// datagram may still go out: it was handed to libuv).
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress, timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        var chunk = uv_buf_init(
            UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
        let sent = address.withSockaddr { uv_udp_try_send(handle, &chunk, 1, $0) }
        if sent >= 0 { return }
        guard sent == UV_EAGAIN.rawValue else { throw UVError(sent, operation: "send", argument: address.description) }
        let coroutine = try AnyCoroutine.requireCurrent("UDPSocket.send")
        let request = SendRequest(copying: bytes, coroutine: coroutine)
        chunk = uv_buf_init(request.bytes.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = address.withSockaddr { uv_udp_send(request.request, handle, &chunk, 1, $0, udpSendCallback) }
        guard status == 0 else {
            request.release()
            throw UVError(status, operation: "send", argument: address.description)
        }
        defer { request.waiter = nil }
        while !request.isDone {
            try coroutine.park(.primitive(self, "send"), timeout: timeout)
        }
        if request.status == UV_ECANCELED.rawValue && isClosed { throw closedError() }
        if request.status != 0 { throw UVError(request.status, operation: "send", argument: address.description) }
    }

    /// Sends `bytes` as one datagram; see ``send(_:to:timeout:)-(UnsafeRawBufferPointer,_,_)``.
    public func send(_ bytes: [UInt8], to address: SocketAddress, timeout: Duration? = nil) throws {
        try bytes.withUnsafeBytes { try send($0, to: address, timeout: timeout) }
    }

    /// Sends `text` as UTF-8 in one datagram.
    public func send(_ text: String, to address: SocketAddress, timeout: Duration? = nil) throws {
        var text = text
        try text.withUTF8 { try send(UnsafeRawBufferPointer($0), to: address, timeout: timeout) }
    }

    // MARK: - Receiving

    /// Waits for the next datagram and returns it with its sender.
    ///
    /// Throws ``TimeoutError`` when none arrives within `timeout` (UDP never says a peer is
    /// gone: always give one when waiting for a reply), ``UVError`` for a failed receive,
    /// ``IOError/Code/closed`` if the socket is closed (also while waiting) and
    /// `CancellationError`; an abandoned wait loses no datagram.
    public func receive(timeout: Duration? = nil) throws -> Datagram {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let coroutine = try AnyCoroutine.requireCurrent("UDPSocket.receive")
        defer { stopReceivingIfIdle() }
        while true {
            if isClosed { throw closedError() }
            if !inbox.isEmpty { return inbox.removeFirst() }
            if let error = receiveError {
                receiveError = nil
                throw error
            }
            if !isReceiving {
                let status = uv_udp_recv_start(handle, udpAllocate, udpReceiveCallback)
                guard status == 0 else { throw UVError(status, operation: "receive", argument: "\(self)") }
                isReceiving = true
            }
            try coroutine.wait(on: self, "receive", timeout: deadline.map { $0 - .now },
                               enqueue: { receivers.append($0) }, dequeue: { receivers.remove($0) })
        }
    }

    /// Reads from the kernel only while someone waits: no datagram is read just to be held.
    private func stopReceivingIfIdle() {
        if isReceiving && receivers.isEmpty && !isClosed {
            uv_udp_recv_stop(handle)
            isReceiving = false
        }
    }

    fileprivate func allocate() -> uv_buf_t {
        uv_buf_init(receiveBuffer.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self), UInt32(receiveBuffer.count))
    }

    fileprivate func didReceive(_ count: Int, from address: UnsafePointer<sockaddr>?) {
        if count < 0 {
            receiveError = UVError(Int32(count), operation: "receive", argument: "\(self)")
        } else if let address {
            var storage = sockaddr_storage()
            let length = Int32(address.pointee.sa_family) == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: length)) }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: receiveBuffer.baseAddress, count: count))
            inbox.append(Datagram(bytes: bytes, sender: SocketAddress(storage)))
        } else {
            return  // Nothing more to read this time (count 0, no address).
        }
        receivers.signalFirst()
        // The woken receiver takes this one; with nobody else waiting, leave the rest in the kernel.
        if receivers.isEmpty {
            uv_udp_recv_stop(handle)
            isReceiving = false
        }
    }

    // MARK: - Closing

    /// Closes the socket. A coroutine blocked receiving or sending gets
    /// ``IOError/Code/closed``. Closing twice does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if isReceiving {
            uv_udp_recv_stop(handle)
            isReceiving = false
        }
        handle.pointee.data = nil
        closeAndFreeHandle(handle)
        hub.unregister(self)
        receivers.signalAll()
    }

    package func closeForShutdown() { close() }

    private func closedError() -> IOError { IOError(.closed, "\(self) is closed") }

    package var waitDescription: String { "UDPSocket \(localAddress?.description ?? "?")" }

    public var description: String { waitDescription }
}

private let udpAllocate: uv_alloc_cb = { handle, _, buffer in
    guard let data = handle?.pointee.data else {
        buffer?.pointee = uv_buf_init(nil, 0)
        return
    }
    buffer?.pointee = Unmanaged<UDPSocket>.fromOpaque(data).takeUnretainedValue().allocate()
}

private let udpReceiveCallback: uv_udp_recv_cb = { handle, count, _, address, _ in
    guard let data = handle?.pointee.data else { return }
    Unmanaged<UDPSocket>.fromOpaque(data).takeUnretainedValue().didReceive(count, from: address)
}

/// A `uv_udp_send_t` with its private copy of the datagram.
private final class SendRequest: PendingRequest<uv_udp_send_t> {
    let bytes: UnsafeMutableRawPointer

    init(copying source: UnsafeRawBufferPointer, coroutine: AnyCoroutine) {
        bytes = .allocate(byteCount: max(1, source.count), alignment: 1)
        if let base = source.baseAddress { bytes.copyMemory(from: base, byteCount: source.count) }
        super.init(waiter: coroutine)
    }

    deinit { bytes.deallocate() }
}

private let udpSendCallback: uv_udp_send_cb = { request, status in
    SendRequest.finish(request.map(UnsafeMutableRawPointer.init), status: status)
}
