import Glibc
import Logging
import WeaveCore

/// A Unix domain socket server on every hub of a ``HubGroup``: one listener on hub 0 whose
/// acceptor hands each connection to a hub in turn, where its handler runs.
///
/// ```swift
/// try HubGroup.run { group in
///     let server = try GroupUnixStreamServer(group: group, path: "/tmp/app.sock", removingStaleSocket: true) { connection in
///         while let line = try connection.readLine() { try connection.write(line + "\n") }
///     }
///     try server.serveForever()
/// }
/// ```
///
/// Why not one listener per hub, as ``GroupStreamServer`` does for TCP: Linux spreads
/// connections over `SO_REUSEPORT` listeners for TCP and UDP only; a second Unix listener on
/// one path cannot even bind. So one acceptor takes connections off the kernel's queue (in
/// bursts, as every Weave listener does) and passes each socket to the next hub through that
/// hub's ``CrossHubChannel``, skipping a hub whose hand-off queue is full. The receiving hub
/// adopts the descriptor into a ``UnixConnection`` of its own loop; no byte has been read on
/// hub 0, so none is lost. From there a connection stays on its hub, and everything said of
/// ``GroupStreamServer`` holds: one `maxConnections` for the whole server, a graceful
/// ``stop(gracePeriod:)`` over every hub, `Sendable` from any coroutine of the group.
public final class GroupUnixStreamServer: Sendable {
    public typealias Handler = @Sendable (UnixConnection) throws -> Void

    /// The group whose hubs serve.
    public let group: HubGroup
    /// The socket file's path.
    public let path: String
    /// The limit on connections handled at once over all hubs, if any.
    public let maxConnections: Int?
    /// How many connections may wait in a hub's hand-off queue.
    static let handOffCapacity = 256
    private let listener: HubBound<UnixListener>
    private let handOffs: [CrossHubChannel<Int32>]
    /// Hub `i`'s accept loop over its hand-off queue, read only on hub `i`.
    private let servers: [HubBound<ConnectionServer<UnixConnection>>]
    private let acceptor: HubBound<AcceptorSlot>
    private let open: OpenConnections

    /// Connections being handled now, over every hub.
    public var connectionCount: Int { open.count.load(ordering: .relaxed) }

    /// Binds `path` on hub 0 now (see ``UnixListener/bind(path:backlog:removingStaleSocket:)``)
    /// and readies every hub; serving starts with ``start()`` or ``serveForever()``.
    ///
    /// Call it from a coroutine on a hub of `group`; it parks while each hub gets ready.
    /// `handler` runs on the hub the connection was handed to, which closes it when the
    /// handler returns or throws.
    ///
    /// - Throws: ``IOError/Code/invalidAddress`` for a bad path, ``UVError`` for a failed
    ///   bind, ``WeaveError/Code/invalidArgument`` for a `maxConnections` below 1,
    ///   ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` outside a coroutine, and
    ///   `CancellationError` if the caller is cancelled meanwhile.
    public init(
        group: HubGroup, path: String, backlog: Int? = nil, maxConnections: Int? = nil,
        removingStaleSocket: Bool = false, handler: @escaping Handler
    ) throws {
        try ConnectionServer<UnixConnection>.validate(maxConnections: maxConnections, server: "GroupUnixStreamServer")
        let open = OpenConnections(limit: maxConnections)
        let admitted: Handler = { connection in
            guard open.admit() else { return }
            defer { open.release() }
            try handler(connection)
        }
        let handOffs = group.hubs.map { CrossHubChannel<Int32>(capacity: Self.handOffCapacity, label: "\(path) to \($0)") }
        let (listener, acceptor) = try group.hub(0).run(name: "bind") {
            let listener = try UnixListener.bind(path: path, backlog: backlog, removingStaleSocket: removingStaleSocket)
            let bound = HubBound(listener)
            return (bound, HubBound(AcceptorSlot(), sameHubAs: bound))
        }
        var servers: [HubBound<ConnectionServer<UnixConnection>>] = []
        for (index, member) in group.hubs.enumerated() {
            let handOff = handOffs[index]
            servers.append(try member.run(name: "ready") {
                let source = HandOffSource(channel: handOff, description: "\(path) on hub \(index)")
                return HubBound(try ConnectionServer(
                    listener: source, maxConnections: nil,
                    accept: { try source.accept(path: path) }, handler: admitted))
            })
        }
        self.group = group
        self.path = path
        self.maxConnections = maxConnections
        self.listener = listener
        self.handOffs = handOffs
        self.servers = servers
        self.acceptor = acceptor
        self.open = open
    }

    /// Starts every hub's loop and hub 0's acceptor, and returns once they run.
    ///
    /// Parks the calling coroutine while each hub starts. Throws `CancellationError` if the
    /// caller is cancelled meanwhile, ``WeaveError/Code/hubClosed`` once a hub has stopped.
    public func start() throws {
        for (index, server) in servers.enumerated() {
            try group.hub(index).run { try server.value.start() }
        }
        let (listener, acceptor, handOffs) = (self.listener, self.acceptor, self.handOffs)
        try group.hub(0).run {
            guard acceptor.value.loop == nil else { return }
            acceptor.value.loop = try spawn(name: "accept \(listener.value.addressDescription) for every hub") {
                try Self.acceptConnections(listener.value, handOffs: handOffs)
            }
        }
    }

    /// Starts if needed, then parks the calling coroutine until every hub has stopped serving
    /// (``stop(gracePeriod:)``, from another coroutine).
    public func serveForever() throws {
        try start()
        try group.runOnEveryHub(servers, name: "serve") { try $0.serveForever() }
    }

    /// Stops accepting (and removes the socket file), then stops every hub's handlers as
    /// ``GroupStreamServer/stop(gracePeriod:)`` does: each lets its running handlers finish
    /// within `gracePeriod`, then cancels the rest. Connections accepted but not yet taken by
    /// their hub are closed unserved.
    public func stop(gracePeriod: Duration = .seconds(5)) throws {
        let (listener, acceptor) = (self.listener, self.acceptor)
        try group.hub(0).run(name: "stop accepting") {
            listener.value.close()
            if let loop = acceptor.value.loop {
                loop.cancel()
                _ = try? loop.join()
            }
        }
        for handOff in handOffs {
            handOff.close()
            while let fd = handOff.tryReceive() { Glibc.close(fd) }
        }
        try group.runOnEveryHub(servers, name: "stop") { try $0.stop(gracePeriod: gracePeriod) }
    }

    /// Hub 0's acceptor: takes each connection off the listener, detaches its socket from
    /// hub 0's loop (a duplicate descriptor; the original handle is closed) and passes it to
    /// the next hub whose hand-off queue has room (waiting on the next in turn when all are
    /// full, so a flood backs up into the kernel's queue rather than into memory).
    private static func acceptConnections(_ listener: UnixListener, handOffs: [CrossHubChannel<Int32>]) throws {
        let logger = Hub.current?.logger ?? Logger(label: "weave")
        var next = 0
        while !listener.isClosed {
            let connection: UnixConnection
            do {
                connection = try listener.accept()
            } catch let error as IOError where error.code == .closed {
                return
            } catch let error as UVError where error.name == "EMFILE" || error.name == "ENFILE" {
                logger.debug("out of file descriptors; pausing accepts", metadata: ["listener": "\(listener)"])
                try Coroutine.sleep(for: .milliseconds(100))
                continue
            } catch let error as UVError {
                logger.debug("accept failed", metadata: ["listener": "\(listener)", "error": "\(error)"])
                continue
            }
            let fd = connection.fileDescriptor.map { fcntl($0, F_DUPFD_CLOEXEC, 0) } ?? -1
            connection.close()
            guard fd >= 0 else {
                logger.debug("could not detach an accepted connection", metadata: ["errno": "\(errno)"])
                continue
            }
            var placed = false
            for step in 0..<handOffs.count {
                let index = (next + step) % handOffs.count
                if (try? handOffs[index].trySend(fd)) == true {
                    next = index + 1
                    placed = true
                    break
                }
            }
            if !placed {
                do {
                    try handOffs[next % handOffs.count].send(fd)
                } catch {
                    Glibc.close(fd)
                    throw error
                }
                next += 1
            }
        }
    }
}

/// One hub's end of a ``GroupUnixStreamServer``: the sockets hub 0 passes to it.
private final class HandOffSource: ConnectionSource {
    let channel: CrossHubChannel<Int32>
    let description: String

    init(channel: CrossHubChannel<Int32>, description: String) {
        self.channel = channel
        self.description = description
    }

    var isClosed: Bool { channel.isClosed && channel.count == 0 }
    var addressDescription: String { description }

    func close() { channel.close() }

    /// The next socket handed over, adopted on this hub; ``IOError/Code/closed`` once the
    /// server stops.
    func accept(path: String) throws -> UnixConnection {
        guard let fd = try channel.receive() else { throw IOError(.closed, "\(description) is closed") }
        return try UnixConnection.adopting(fd: fd, path: path)
    }
}

/// Hub 0's acceptor coroutine, once started.
private final class AcceptorSlot {
    var loop: Coroutine<Void>?
}
