import CLibUV
import Glibc
import WeaveCore

/// A connected Unix domain stream socket whose reads and writes block the calling coroutine
/// only.
///
/// Reading, writing, half-close and closing are those of ``StreamConnection``.
///
/// ```swift
/// let connection = try UnixConnection.connect(path: "/tmp/app.sock")
/// try connection.write("ping\n")
/// ```
public final class UnixConnection: StreamConnection {
    /// The socket path: the one connected to, or the listener's for an accepted connection.
    public let path: String

    /// Takes over an initialised, connected `uv_pipe_t`.
    init(hub: Hub, handle: UnsafeMutablePointer<uv_pipe_t>, path: String) {
        self.path = path
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    /// Connects to the Unix domain socket at `path`.
    ///
    /// Throws ``IOError/Code/invalidAddress`` for an empty path or one longer than the
    /// kernel's 107 bytes, ``UVError`` (`connect /tmp/app.sock: ENOENT`, `ECONNREFUSED` for a
    /// socket file nobody listens on), ``TimeoutError`` and `CancellationError`.
    public static func connect(path: String, timeout: Duration? = nil) throws -> UnixConnection {
        try validate(path: path)
        let coroutine = try AnyCoroutine.requireCurrent("UnixConnection.connect")
        let hub = coroutine.hub
        let handle = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, handle, 0)
        let request = ConnectRequest(waiter: coroutine)
        // Reports failures through the callback only.
        uv_pipe_connect(request.request, handle, path, connectCallback)
        try awaitConnect(request, handle: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self),
                         coroutine: coroutine, timeout: timeout, argument: path)
        return UnixConnection(hub: hub, handle: handle, path: path)
    }

    /// Takes over `fd`, a connected Unix stream socket (handed over from another hub's
    /// listener), on the current hub. Closes `fd` when it cannot.
    static func adopting(fd: Int32, path: String) throws -> UnixConnection {
        guard let hub = Hub.current else {
            Glibc.close(fd)
            throw WeaveError(.notInCoroutine, "UnixConnection.adopting must be called inside Hub.run")
        }
        let handle = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, handle, 0)
        let status = uv_pipe_open(handle, fd)
        let connection = UnixConnection(hub: hub, handle: handle, path: path)
        guard status == 0 else {
            connection.close()
            Glibc.close(fd)
            throw UVError(status, operation: "uv_pipe_open", argument: path)
        }
        return connection
    }

    /// libuv 1.44 silently truncates a path that does not fit `sun_path`: refuse it instead.
    static func validate(path: String) throws {
        let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
        guard !path.isEmpty, path.utf8.count <= limit, !path.utf8.contains(0) else {
            throw IOError(.invalidAddress,
                          "Unix socket path '\(path)' must be 1 to \(limit) bytes without NUL (it has \(path.utf8.count))")
        }
    }

    override package var waitDescription: String { "UnixConnection \(path)" }
}
