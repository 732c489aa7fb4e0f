import CLibUV
import Glibc
import WeaveCore

/// A listening stream socket whose `accept` blocks the calling coroutine only: the common
/// core of ``TCPListener`` and ``UnixListener``.
///
/// Not open: the subclasses live in Weave and add a typed `accept`.
public class StreamListener: HubResource, WaitTarget, CustomStringConvertible {
    unowned(unsafe) final let hub: Hub
    /// The `uv_tcp_t` or `uv_pipe_t` seen as a stream; freed in its close callback.
    final let stream: UnsafeMutablePointer<uv_stream_t>
    /// Connections accepted by the connection callback and not yet claimed by `accept`,
    /// oldest first. Accepting in the callback keeps libuv watching the listener, so one
    /// readiness drains the kernel's accept queue (until `EAGAIN` or this bound) instead of
    /// one connection per loop turn. Each handle is open; `close()` closes the unclaimed.
    private final var accepted = FIFO<UnsafeMutablePointer<uv_stream_t>>()
    /// Whether libuv holds a connection it offered while `accepted` was full: libuv stops
    /// watching the listener until it is taken, which is the back-pressure.
    private final var isConnectionHeld = false
    private final var acceptError: Int32 = 0
    private final var acceptors = WaitQueue()
    /// Whether ``close()`` was called.
    public private(set) final var isClosed = false

    /// How many accepted connections wait at most for `accept` before the listener leaves
    /// the rest in the kernel's queue.
    static let acceptedLimit = 1024

    /// The backlog for `listen` when the caller gives none: the kernel's own cap
    /// (`net.core.somaxconn`, 4096 on current kernels), which a larger value would be
    /// clamped to anyway; `SOMAXCONN` if it cannot be read.
    static let systemBacklog: Int = {
        guard let file = fopen("/proc/sys/net/core/somaxconn", "r") else { return Int(SOMAXCONN) }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 32)
        guard fgets(&line, Int32(line.count), file) != nil,
              let value = Int(String(decoding: line.prefix { $0 >= 0x30 && $0 <= 0x39 }.map { UInt8($0) }, as: UTF8.self)),
              value > 0
        else { return Int(SOMAXCONN) }
        return value
    }()

    /// Takes over an initialised, not yet listening handle of `hub`'s loop.
    init(hub: Hub, stream: UnsafeMutablePointer<uv_stream_t>) {
        self.hub = hub
        self.stream = stream
        stream.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    deinit { close() }

    /// Starts listening (after bind); nil takes ``systemBacklog``.
    final func listen(backlog: Int?) -> Int32 {
        uv_listen(stream, Int32(clamping: backlog ?? Self.systemBacklog), listenerConnectionCallback)
    }

    /// A new client handle, initialised on the hub's loop and allocated with
    /// `UnsafeMutablePointer.allocate` (a `uv_tcp_t` or a `uv_pipe_t`).
    func makeClientHandle() -> UnsafeMutablePointer<uv_stream_t> {
        preconditionFailure("StreamListener subclasses make their client handles")
    }

    /// Connections accepted and waiting for `accept`.
    final var acceptedCount: Int { accepted.count }

    /// Waits for the next connection and returns its open handle (accepted by the
    /// connection callback). Connections already accepted come before a pending error.
    final func acceptStream(timeout: Duration?, operation: StaticString) throws -> UnsafeMutablePointer<uv_stream_t> {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if isClosed { throw IOError(.closed, "\(self) is closed") }
            if let client = accepted.popFirst() {
                // Room again: take the connection libuv held back, which restarts its watching.
                if isConnectionHeld {
                    isConnectionHeld = false
                    acceptHeldConnection()
                }
                return client
            }
            if acceptError != 0 {
                let error = acceptError
                acceptError = 0
                throw UVError(error, operation: "accept", argument: addressDescription)
            }
            let coroutine = try AnyCoroutine.requireCurrent(operation)
            try coroutine.wait(on: self, "accept", timeout: deadline.map { $0 - .now },
                               enqueue: { acceptors.append($0) }, dequeue: { acceptors.remove($0) })
        }
    }

    /// Runs in libuv's accept loop, once per connection it took from the kernel (or per
    /// failure). Accepting here, not later in the coroutine, is what keeps the loop going.
    fileprivate final func incoming(status: Int32) {
        if status < 0 {
            acceptError = status
        } else if accepted.count < Self.acceptedLimit {
            acceptHeldConnection()
        } else {
            isConnectionHeld = true
        }
        acceptors.signalFirst()
    }

    /// Moves the connection libuv offers into a new handle at the back of `accepted`.
    private final func acceptHeldConnection() {
        let client = makeClientHandle()
        let status = uv_accept(stream, client)
        guard status == 0 else {
            // libuv has closed the descriptor already; EAGAIN means there was none.
            closeAndFreeHandle(client)
            if status != UV_EAGAIN.rawValue { acceptError = status }
            return
        }
        accepted.append(client)
    }

    /// Stops listening. A coroutine blocked in `accept` gets ``IOError/Code/closed``.
    /// Closing twice does nothing.
    public final func close() {
        guard !isClosed else { return }
        isClosed = true
        stream.pointee.data = nil
        closeAndFreeHandle(stream)
        // Unclaimed connections close with the listener (their clients see the end).
        while let client = accepted.popFirst() { closeAndFreeHandle(client) }
        hub.unregister(self)
        acceptors.signalAll()
        didClose()
    }

    /// Runs once after the handle is closed (a Unix listener removes its socket file).
    func didClose() {}

    package final func closeForShutdown() { close() }

    /// The bound address or path, for errors.
    var addressDescription: String { "?" }

    package var waitDescription: String { "listener \(addressDescription)" }

    public final var description: String { waitDescription }
}

private let listenerConnectionCallback: uv_connection_cb = { server, status in
    guard let data = server?.pointee.data else { return }
    Unmanaged<StreamListener>.fromOpaque(data).takeUnretainedValue().incoming(status: status)
}
