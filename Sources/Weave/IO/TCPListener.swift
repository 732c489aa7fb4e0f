import CLibUV
import Glibc

/// A listening TCP socket whose `accept` blocks the calling coroutine only.
///
/// ```swift
/// let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
/// print("listening on", listener.localAddress!)
/// let connection = try listener.accept()
/// ```
public final class TCPListener: HubResource, WaitTarget, CustomStringConvertible {
    unowned(unsafe) let hub: Hub
    /// Freed in the close callback.
    let handle: UnsafeMutablePointer<uv_tcp_t>
    private var pending = 0
    private var acceptError: Int32 = 0
    private var acceptors = WaitQueue()
    public private(set) var isClosed = false
    /// The bound address (with the actual port when bound to port 0).
    public private(set) var localAddress: SocketAddress?

    private init(hub: Hub, handle: UnsafeMutablePointer<uv_tcp_t>) {
        self.hub = hub
        self.handle = handle
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    deinit { close() }

    /// Binds `host:port` (port 0 picks a free one) and listens with `backlog`.
    ///
    /// Throws ``UVError`` (`bind 127.0.0.1:80: EACCES`, `EADDRINUSE`), ``IOError`` for a
    /// bad address.
    public static func bind(host: String = "127.0.0.1", port: Int, backlog: Int = 511) throws -> TCPListener {
        let address = try resolve(host: host, port: port).first.unsafelyUnwrapped
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "TCPListener.bind must be called inside Weave.run")
        }
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(hub.loop, handle)
        let listener = TCPListener(hub: hub, handle: handle)
        var status = address.withSockaddr { uv_tcp_bind(handle, $0, 0) }
        if status == 0 {
            status = uv_listen(listener.stream, Int32(clamping: backlog), connectionCallback)
        }
        guard status == 0 else {
            listener.close()
            throw UVError(status, operation: status == 0 ? "listen" : "bind", argument: address.description)
        }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        listener.localAddress = named == 0 ? SocketAddress(storage) : address
        return listener
    }

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// Waits for the next connection and returns it (`TCP_NODELAY` on unless `noDelay` is false).
    ///
    /// Throws ``UVError`` for a failed accept (such as `EMFILE` when out of descriptors:
    /// the listener keeps listening, and a later call can succeed), ``IOError/Code/closed``
    /// once the listener is closed (also while waiting), ``TimeoutError``, `CancellationError`.
    public func accept(timeout: Duration? = nil, noDelay: Bool = true) throws -> TCPConnection {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if isClosed { throw IOError(.closed, "\(self) is closed") }
            if acceptError != 0 {
                let error = acceptError
                acceptError = 0
                throw UVError(error, operation: "accept", argument: localAddress?.description)
            }
            if pending > 0 {
                let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
                uv_tcp_init(hub.loop, client)
                let status = uv_accept(stream, UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self))
                pending -= 1
                guard status == 0 else {
                    uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self)) {
                        UnsafeMutableRawPointer($0)?.deallocate()
                    }
                    if status == UV_EAGAIN.rawValue { continue }
                    throw UVError(status, operation: "accept", argument: localAddress?.description)
                }
                return TCPConnection(hub: hub, handle: client, noDelay: noDelay)
            }
            let coroutine = try AnyCoroutine.requireCurrent("TCPListener.accept")
            try coroutine.wait(on: self, "accept", timeout: deadline.map { $0 - .now },
                               enqueue: { acceptors.append($0) }, dequeue: { acceptors.remove($0) })
        }
    }

    fileprivate func incoming(status: Int32) {
        if status < 0 {
            acceptError = status
        } else {
            pending += 1
        }
        acceptors.signalFirst()
    }

    /// Stops listening. A coroutine blocked in `accept` gets ``IOError/Code/closed``.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        handle.pointee.data = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) {
            UnsafeMutableRawPointer($0)?.deallocate()
        }
        hub.unregister(self)
        acceptors.signalAll()
    }

    func closeForShutdown() { close() }

    var waitDescription: String { "TCPListener \(localAddress?.description ?? "?")" }

    public var description: String { waitDescription }
}

private let connectionCallback: uv_connection_cb = { server, status in
    guard let data = server?.pointee.data else { return }
    Unmanaged<TCPListener>.fromOpaque(data).takeUnretainedValue().incoming(status: status)
}
