import CLibUV
import Glibc
import WeaveCore

/// Readiness of many foreign fds at once, as Python's `select.poll` / `epoll`: register
/// fds with the events wanted, then ``poll(timeout:)`` parks the calling coroutine until
/// some are ready and returns them.
///
/// ```swift
/// let poller = try Poller()
/// try poller.register(listenFD, for: .readable)
/// for (fd, events) in try poller.poll(timeout: .seconds(1)) { … }
/// ```
///
/// Readiness is level-triggered: an fd stays ready until drained. Registered fds become
/// non-blocking. Watching shares the hub's one watcher per fd with ``waitReadable(fd:timeout:)``
/// and other pollers. **Unregister an fd before closing it** (or close the poller): arming a
/// closed fd aborts inside libuv, so Weave checks and reports it as ``Events/error``, but it
/// cannot notice a number the kernel already handed to a new file. The poller belongs to
/// the hub it was made on; one coroutine polls it at a time.
public final class Poller: HubResource, WaitTarget {
    /// What an fd is ready for (or what to watch for).
    public struct Events: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Data to read, a connection to accept, or the end of the stream.
        public static let readable = Events(rawValue: 1)
        /// Room to write, or a non-blocking connect that finished.
        public static let writable = Events(rawValue: 2)
        /// The peer closed its side (`EPOLLRDHUP`); always reported, need not be asked for.
        public static let hangup = Events(rawValue: 4)
        /// The fd cannot be watched (closed under the poller: `EBADF`); reported, never asked for.
        public static let error = Events(rawValue: 8)

        var uvEvents: Int32 {
            var events: Int32 = 0
            if contains(.readable) { events |= Int32(UV_READABLE.rawValue) }
            if contains(.writable) { events |= Int32(UV_WRITABLE.rawValue) }
            if contains(.hangup) { events |= Int32(UV_DISCONNECT.rawValue) }
            return events
        }

        init(uvEvents: Int32) {
            var events: Events = []
            if uvEvents & Int32(UV_READABLE.rawValue) != 0 { events.insert(.readable) }
            if uvEvents & Int32(UV_WRITABLE.rawValue) != 0 { events.insert(.writable) }
            if uvEvents & Int32(UV_DISCONNECT.rawValue) != 0 { events.insert(.hangup) }
            self = events
        }

        public var description: String {
            let names = [(Events.readable, "readable"), (.writable, "writable"), (.hangup, "hangup"), (.error, "error")]
            return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
        }
    }

    unowned(unsafe) let hub: Hub
    /// Registered fds and the events wanted.
    public private(set) var registered: [Int32: Events] = [:]
    /// Registered fds whose watch is paused: they fired while nobody polled (level-triggered
    /// readiness would otherwise wake the loop on every pass). Re-armed by the next poll.
    private var paused: Set<Int32> = []
    /// Events gathered while a coroutine polls.
    private var ready: [Int32: Events] = [:]
    private var waiter: AnyCoroutine?
    /// Whether ``close()`` was called.
    public private(set) var isClosed = false

    /// A poller on the current hub. Throws `WeaveError` outside `Hub.run`.
    public init() throws {
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "Poller must be made inside Hub.run")
        }
        self.hub = hub
        hub.register(self)
    }

    deinit { close() }

    /// Starts watching `fd` for `events` (``Events/readable``, ``Events/writable``).
    ///
    /// Throws ``UVError`` (`poll fd 7: EBADF`, `EEXIST` for a socket Weave owns, `EPERM` for
    /// a regular file), ``IOError/Code/closed`` once the poller is closed, `WeaveError`
    /// (`invalidArgument`) if `fd` is already registered (use ``modify(_:for:)``).
    public func register(_ fd: Int32, for events: Events) throws {
        if isClosed { throw IOError(.closed, "Poller is closed") }
        if registered[fd] != nil {
            throw WeaveError(.invalidArgument, "Poller.register: fd \(fd) is already registered; use modify")
        }
        let watcher = try FDWatcher.watcher(for: fd, on: hub)
        registered[fd] = events
        watcher.setInterest(of: self, events)
    }

    /// Changes the events watched on a registered `fd`. Throws `WeaveError` if it is not registered.
    public func modify(_ fd: Int32, for events: Events) throws {
        if isClosed { throw IOError(.closed, "Poller is closed") }
        guard registered[fd] != nil else {
            throw WeaveError(.invalidArgument, "Poller.modify: fd \(fd) is not registered")
        }
        registered[fd] = events
        paused.remove(fd)
        PollTable.of(hub).watchers[fd]?.setInterest(of: self, events)
    }

    /// Stops watching `fd` (do this before closing it). Unregistering an fd that is not
    /// registered does nothing.
    public func unregister(_ fd: Int32) {
        guard registered.removeValue(forKey: fd) != nil else { return }
        paused.remove(fd)
        ready[fd] = nil
        PollTable.of(hub).watchers[fd]?.setInterest(of: self, nil)
    }

    /// Waits until at least one registered fd is ready, or `timeout` passes, and returns
    /// the ready fds with their events (empty after the timeout, as Python's `poll`). A
    /// zero timeout checks without waiting; nil waits as long as it takes.
    ///
    /// Throws ``IOError/Code/closed`` if the poller is closed (also while waiting),
    /// `CancellationError`, and the ``TimeoutError`` of an enclosing `withTimeout` scope.
    public func poll(timeout: Duration? = nil) throws -> [(fd: Int32, events: Events)] {
        if isClosed { throw IOError(.closed, "Poller is closed") }
        if let timeout, timeout <= .zero { return try pollNow() }
        let coroutine = try AnyCoroutine.requireCurrent("Poller.poll")
        guard waiter == nil else {
            throw WeaveError(.invalidArgument, "Poller.poll: another coroutine is already polling this poller")
        }
        resume()
        ready.removeAll(keepingCapacity: true)
        waiter = coroutine
        defer { waiter = nil }
        while ready.isEmpty && !isClosed {
            do {
                try coroutine.park(.primitive(self, "poll"), timeout: timeout)
            } catch let error as TimeoutError where error.scope == nil && error.scopeID == 0 {
                break  // this call's own timeout: nothing was ready
            }
        }
        if isClosed { throw IOError(.closed, "Poller is closed") }
        defer { ready.removeAll(keepingCapacity: true) }
        return ready.map { (fd: $0.key, events: $0.value) }.sorted { $0.fd < $1.fd }
    }

    /// A zero-timeout check: `poll(2)` on the registered fds, without the loop.
    private func pollNow() throws -> [(fd: Int32, events: Events)] {
        var entries = registered.map { fd, events in
            var bits: Int16 = 0
            if events.contains(.readable) { bits |= Int16(POLLIN) }
            if events.contains(.writable) { bits |= Int16(POLLOUT) }
            return pollfd(fd: fd, events: bits | pollRDHUP, revents: 0)
        }
        let count = Glibc.poll(&entries, nfds_t(entries.count), 0)
        if count < 0 { throw UVError(-errno, operation: "poll", argument: "\(entries.count) fds") }
        return entries.compactMap { entry in
            var events: Events = []
            if entry.revents & Int16(POLLIN) != 0 { events.insert(.readable) }
            if entry.revents & Int16(POLLOUT) != 0 { events.insert(.writable) }
            if entry.revents & (pollRDHUP | Int16(POLLHUP)) != 0 { events.insert(.hangup) }
            if entry.revents & Int16(POLLNVAL | POLLERR) != 0 { events.insert(.error) }
            return events.isEmpty ? nil : (fd: entry.fd, events: events)
        }.sorted { $0.fd < $1.fd }
    }

    /// `POLLRDHUP` (a GNU extension Glibc's module map does not import).
    private let pollRDHUP: Int16 = 0x2000

    /// Re-arms the fds paused while nobody polled.
    private func resume() {
        guard !paused.isEmpty else { return }
        let table = PollTable.of(hub)
        let fds = paused
        paused.removeAll()
        for fd in fds { table.watchers[fd]?.update() }
    }

    func isArmed(_ fd: Int32) -> Bool { !paused.contains(fd) }

    /// From the fd's watcher: `fd` is ready for `events`.
    func deliver(fd: Int32, events: Events) {
        if let waiter {
            ready[fd, default: []].formUnion(events)
            hub.makeReady(waiter)
        } else {
            // Nobody polls: pause this fd (the watcher's update after this call disarms it).
            paused.insert(fd)
        }
    }

    /// Stops watching every registered fd; a coroutine in ``poll(timeout:)`` gets
    /// ``IOError/Code/closed``. Closing twice does nothing. Does not close the fds.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        let table = PollTable.of(hub)
        let fds = Array(registered.keys)
        registered.removeAll()
        paused.removeAll()
        for fd in fds { table.watchers[fd]?.setInterest(of: self, nil) }
        hub.unregister(self)
        if let waiter { hub.makeReady(waiter) }
    }

    package func closeForShutdown() { close() }

    package var waitDescription: String { "Poller of \(registered.count) fds" }

    // MARK: - select

    /// Waits until some of `readable` can be read or some of `writable` written, or
    /// `timeout` passes (then both lists are empty), as Python's `select.select`.
    ///
    /// A zero timeout checks without waiting. Throws ``UVError`` for an fd that cannot be
    /// watched, `CancellationError`, the ``TimeoutError`` of an enclosing scope.
    public static func select(
        readable: [Int32], writable: [Int32] = [], timeout: Duration? = nil
    ) throws -> (readable: [Int32], writable: [Int32]) {
        let poller = try Poller()
        defer { poller.close() }
        var wanted: [Int32: Events] = [:]
        for fd in readable { wanted[fd, default: []].insert(.readable) }
        for fd in writable { wanted[fd, default: []].insert(.writable) }
        for (fd, events) in wanted { try poller.register(fd, for: events) }
        let ready = try poller.poll(timeout: timeout)
        let readySet = Dictionary(ready.map { ($0.fd, $0.events) }, uniquingKeysWith: { $0.union($1) })
        // Hang-ups and errors count as readable, as select(2) reports them.
        let readableReady = readable.filter { !(readySet[$0]?.isDisjoint(with: [.readable, .hangup, .error]) ?? true) }
        let writableReady = writable.filter { !(readySet[$0]?.isDisjoint(with: [.writable, .error]) ?? true) }
        return (readableReady, writableReady)
    }
}
