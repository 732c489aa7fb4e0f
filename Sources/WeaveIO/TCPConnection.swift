import CLibUV
import Glibc
import WeaveCore

/// A TCP connection whose reads and writes block the calling coroutine only (gevent's
/// cooperative `socket`).
///
/// Reading, writing, half-close and closing are those of ``StreamConnection``: a per-connection
/// read-ahead buffer with backpressure, `uv_try_write` first and a parked write only when the
/// kernel's buffer is full. `TCP_NODELAY` is on by default. A connection belongs to the hub it
/// was made on; use it from that hub's coroutines, one reader and one writer at a time.
public final class TCPConnection: StreamConnection {
    /// The peer's address, read when the connection was made.
    public let peerAddress: SocketAddress?
    /// This side's address.
    public let localAddress: SocketAddress?

    /// Takes over an initialised, connected `uv_tcp_t`.
    init(hub: Hub, handle: UnsafeMutablePointer<uv_tcp_t>, noDelay: Bool = true) {
        self.peerAddress = TCPConnection.address(of: handle, peer: true)
        self.localAddress = TCPConnection.address(of: handle, peer: false)
        if noDelay { uv_tcp_nodelay(handle, 1) }
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    /// The handle as what it is.
    private var handle: UnsafeMutablePointer<uv_tcp_t> {
        UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_tcp_t.self)
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
            closeAndFreeHandle(handle)
            throw UVError(status, operation: "connect", argument: address.description)
        }
        try awaitConnect(request, handle: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self),
                         coroutine: coroutine, timeout: timeout, argument: address.description)
        return TCPConnection(hub: hub, handle: handle, noDelay: noDelay)
    }

    // MARK: - Options

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

    override package var waitDescription: String {
        "TCPConnection \(localAddress?.description ?? "?") <- \(peerAddress?.description ?? "?")"
    }
}
