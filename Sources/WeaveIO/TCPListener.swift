import CLibUV
import Glibc
import WeaveCore

/// A listening TCP socket whose `accept` blocks the calling coroutine only.
///
/// ```swift
/// let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
/// print("listening on", listener.localAddress!)
/// let connection = try listener.accept()
/// ```
public final class TCPListener: StreamListener {
    /// The bound address (with the actual port when bound to port 0).
    public private(set) var localAddress: SocketAddress?

    private init(hub: Hub, handle: UnsafeMutablePointer<uv_tcp_t>) {
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    /// Binds `host:port` (port 0 picks a free one) and listens with `backlog` (nil: the
    /// kernel's maximum, `net.core.somaxconn`).
    ///
    /// The listener accepts eagerly: each time the socket is readable it takes every
    /// pending connection (up to 1,024 waiting for ``accept(timeout:noDelay:)``) off the
    /// kernel's queue, so a burst of connects is not dropped while coroutines run.
    ///
    /// With `reusePort`, the socket gets `SO_REUSEPORT` before it binds, so that listeners on
    /// several hubs (one a thread) can bind the same address and the kernel spreads incoming
    /// connections over them; every listener on the address must set it. (libuv 1.44 has no
    /// flag for it, so the socket is made first and the option set on it.)
    ///
    /// Throws ``UVError`` (`bind 127.0.0.1:80: EACCES`, `EADDRINUSE`), ``IOError`` for a
    /// bad address.
    public static func bind(host: String = "127.0.0.1", port: Int, backlog: Int? = nil, reusePort: Bool = false) throws -> TCPListener {
        let address = try resolve(host: host, port: port).first.unsafelyUnwrapped
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "TCPListener.bind must be called inside Hub.run")
        }
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        var operation = "bind"
        var status: Int32 = 0
        if reusePort {
            // The socket now (uv_tcp_init_ex), so the option is on it before bind.
            let family = address.withSockaddr { Int32($0.pointee.sa_family) }
            status = uv_tcp_init_ex(hub.loop, handle, UInt32(family))
            if status != 0 {
                handle.deallocate()
                throw UVError(status, operation: "socket", argument: address.description)
            }
        } else {
            uv_tcp_init(hub.loop, handle)
        }
        let listener = TCPListener(hub: hub, handle: handle)
        if reusePort {
            operation = "setsockopt SO_REUSEPORT"
            status = setReusePort(handle)
        }
        if status == 0 {
            operation = "bind"
            status = address.withSockaddr { uv_tcp_bind(handle, $0, 0) }
        }
        if status == 0 {
            operation = "listen"
            status = listener.listen(backlog: backlog)
        }
        guard status == 0 else {
            listener.close()
            throw UVError(status, operation: operation, argument: address.description)
        }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        listener.localAddress = named == 0 ? SocketAddress(storage) : address
        return listener
    }

    /// Sets `SO_REUSEPORT` on the handle's socket; 0 or a negative errno (libuv's convention).
    private static func setReusePort(_ handle: UnsafeMutablePointer<uv_tcp_t>) -> Int32 {
        var fd = uv_os_fd_t()
        let status = UnsafeMutableRawPointer(handle).withMemoryRebound(to: uv_handle_t.self, capacity: 1) { uv_fileno($0, &fd) }
        guard status == 0 else { return status }
        var on: Int32 = 1
        return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 ? 0 : -errno
    }

    /// Waits for the next connection and returns it (`TCP_NODELAY` on unless `noDelay` is false).
    ///
    /// Throws ``UVError`` for a failed accept (such as `EMFILE` when out of descriptors:
    /// the listener keeps listening, and a later call can succeed), ``IOError/Code/closed``
    /// once the listener is closed (also while waiting), ``TimeoutError``, `CancellationError`.
    public func accept(timeout: Duration? = nil, noDelay: Bool = true) throws -> TCPConnection {
        let client = try acceptStream(timeout: timeout, operation: "TCPListener.accept")
        return TCPConnection(hub: hub, handle: UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_tcp_t.self), noDelay: noDelay)
    }

    override func makeClientHandle() -> UnsafeMutablePointer<uv_stream_t> {
        let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(hub.loop, client)
        return UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self)
    }

    override var addressDescription: String { localAddress?.description ?? "?" }

    override package var waitDescription: String { "TCPListener \(addressDescription)" }
}
