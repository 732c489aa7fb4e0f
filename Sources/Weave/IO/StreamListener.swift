import CLibUV

/// A listening stream socket whose `accept` blocks the calling coroutine only: the common
/// core of ``TCPListener`` and ``UnixListener``.
///
/// Not open: the subclasses live in Weave and add a typed `accept`.
public class StreamListener: HubResource, WaitTarget, CustomStringConvertible {
    unowned(unsafe) final let hub: Hub
    /// The `uv_tcp_t` or `uv_pipe_t` seen as a stream; freed in its close callback.
    final let stream: UnsafeMutablePointer<uv_stream_t>
    private final var pending = 0
    private final var acceptError: Int32 = 0
    private final var acceptors = WaitQueue()
    /// Whether ``close()`` was called.
    public private(set) final var isClosed = false

    /// Takes over an initialised, not yet listening handle of `hub`'s loop.
    init(hub: Hub, stream: UnsafeMutablePointer<uv_stream_t>) {
        self.hub = hub
        self.stream = stream
        stream.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    deinit { close() }

    /// Starts listening (after bind).
    final func listen(backlog: Int) -> Int32 {
        uv_listen(stream, Int32(clamping: backlog), listenerConnectionCallback)
    }

    /// Waits for the next connection and accepts it into a handle made by `makeClient`
    /// (initialised on the hub's loop, allocated with `UnsafeMutablePointer.allocate`).
    final func acceptStream(
        timeout: Duration?, operation: StaticString, makeClient: () -> UnsafeMutablePointer<uv_stream_t>
    ) throws -> UnsafeMutablePointer<uv_stream_t> {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if isClosed { throw IOError(.closed, "\(self) is closed") }
            if acceptError != 0 {
                let error = acceptError
                acceptError = 0
                throw UVError(error, operation: "accept", argument: addressDescription)
            }
            if pending > 0 {
                let client = makeClient()
                let status = uv_accept(stream, client)
                pending -= 1
                guard status == 0 else {
                    closeAndFreeHandle(client)
                    if status == UV_EAGAIN.rawValue { continue }
                    throw UVError(status, operation: "accept", argument: addressDescription)
                }
                return client
            }
            let coroutine = try AnyCoroutine.requireCurrent(operation)
            try coroutine.wait(on: self, "accept", timeout: deadline.map { $0 - .now },
                               enqueue: { acceptors.append($0) }, dequeue: { acceptors.remove($0) })
        }
    }

    fileprivate final func incoming(status: Int32) {
        if status < 0 {
            acceptError = status
        } else {
            pending += 1
        }
        acceptors.signalFirst()
    }

    /// Stops listening. A coroutine blocked in `accept` gets ``IOError/Code/closed``.
    /// Closing twice does nothing.
    public final func close() {
        guard !isClosed else { return }
        isClosed = true
        stream.pointee.data = nil
        closeAndFreeHandle(stream)
        hub.unregister(self)
        acceptors.signalAll()
        didClose()
    }

    /// Runs once after the handle is closed (a Unix listener removes its socket file).
    func didClose() {}

    final func closeForShutdown() { close() }

    /// The bound address or path, for errors.
    var addressDescription: String { "?" }

    var waitDescription: String { "listener \(addressDescription)" }

    public final var description: String { waitDescription }
}

private let listenerConnectionCallback: uv_connection_cb = { server, status in
    guard let data = server?.pointee.data else { return }
    Unmanaged<StreamListener>.fromOpaque(data).takeUnretainedValue().incoming(status: status)
}
