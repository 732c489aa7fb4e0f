import CLibUV
import Glibc
import WeaveCore

/// A listening Unix domain stream socket whose `accept` blocks the calling coroutine only.
///
/// ```swift
/// let listener = try UnixListener.bind(path: "/tmp/app.sock", removingStaleSocket: true)
/// let connection = try listener.accept()
/// ```
///
/// Closing the listener removes the socket file it created (unless something else has
/// replaced it since).
public final class UnixListener: StreamListener {
    /// The socket file's path.
    public let path: String
    /// Device and inode of the socket file this listener created, to remove only that one.
    private var boundFile: (dev_t, ino_t)?

    private init(hub: Hub, handle: UnsafeMutablePointer<uv_pipe_t>, path: String) {
        self.path = path
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    // Closes here, not in the base deinit: by then this class's properties (the path that
    // `didClose` removes) are already gone.
    deinit { close() }

    /// Binds the socket file `path` and listens with `backlog` (nil: the kernel's maximum,
    /// `net.core.somaxconn`). Like ``TCPListener``, it accepts every pending connection
    /// each time the socket is readable (up to 1,024 waiting for ``accept(timeout:)``).
    ///
    /// A file already at `path` makes the bind fail with `EADDRINUSE`, unless
    /// `removingStaleSocket` is true and it is a socket nobody listens on (left behind by a
    /// process that died): that one is removed first. Other files are never removed. The
    /// check is a connect attempt, so a live server at `path` sees one connection that
    /// closes at once.
    ///
    /// Throws ``IOError/Code/invalidAddress`` for a bad path, ``UVError``
    /// (`bind /tmp/app.sock: EADDRINUSE`, `EACCES`, `ENOENT` for a missing directory).
    public static func bind(path: String, backlog: Int? = nil, removingStaleSocket: Bool = false) throws -> UnixListener {
        try UnixConnection.validate(path: path)
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "UnixListener.bind must be called inside Hub.run")
        }
        if removingStaleSocket { removeIfStale(path: path) }
        let handle = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, handle, 0)
        let listener = UnixListener(hub: hub, handle: handle, path: path)
        var operation = "bind"
        var status = uv_pipe_bind(handle, path)
        if status == 0 {
            var info = stat()
            if lstat(path, &info) == 0 { listener.boundFile = (info.st_dev, info.st_ino) }
            operation = "listen"
            status = listener.listen(backlog: backlog)
        }
        guard status == 0 else {
            listener.close()
            throw UVError(status, operation: operation, argument: path)
        }
        return listener
    }

    /// Removes `path` if it is a socket that refuses connections (nobody listens).
    private static func removeIfStale(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return }
        // A non-blocking probe: a Unix connect never waits for a handshake.
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return }
        defer { Glibc.close(probe) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            bytes.copyBytes(from: path.utf8.prefix(bytes.count - 1))
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if status != 0 && errno == ECONNREFUSED { unlink(path) }
    }

    /// Waits for the next connection and returns it.
    ///
    /// Throws ``UVError`` for a failed accept (such as `EMFILE`: the listener keeps
    /// listening), ``IOError/Code/closed`` once the listener is closed (also while waiting),
    /// ``TimeoutError``, `CancellationError`.
    public func accept(timeout: Duration? = nil) throws -> UnixConnection {
        let client = try acceptStream(timeout: timeout, operation: "UnixListener.accept")
        return UnixConnection(hub: hub, handle: UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_pipe_t.self), path: path)
    }

    override func makeClientHandle() -> UnsafeMutablePointer<uv_stream_t> {
        let client = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, client, 0)
        return UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self)
    }

    override func didClose() {
        guard let (device, inode) = boundFile else { return }
        boundFile = nil
        var info = stat()
        if lstat(path, &info) == 0, info.st_dev == device, info.st_ino == inode { unlink(path) }
    }

    override var addressDescription: String { path }

    override package var waitDescription: String { "UnixListener \(path)" }
}
