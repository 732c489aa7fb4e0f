import CLibUV
import Glibc
import WeaveCore

/// The one `uv_poll_t` of a foreign fd on a hub, shared by everything that waits on that fd
/// (libuv allows one watcher per fd): ``waitReadable(fd:timeout:)``, ``waitWritable(fd:timeout:)``
/// and every ``Poller`` that registered it.
///
/// The watcher arms exactly the union of what its waiters want, and closes itself once
/// nobody wants anything. libuv aborts the process when it arms an fd that is closed, so
/// arming checks first (`fcntl(F_GETFD)`) and fails the waiters with `EBADF` instead.
final class FDWatcher: HubResource, WaitTarget {
    unowned(unsafe) let hub: Hub
    let fd: Int32
    /// Freed in its close callback.
    private let handle: UnsafeMutablePointer<uv_poll_t>
    var readers = WaitQueue()
    var writers = WaitQueue()
    /// Pollers that registered this fd, with their interest; unretained (a poller
    /// unregisters before it goes).
    private var pollers: [ObjectIdentifier: (poller: Unmanaged<Poller>, events: Poller.Events)] = [:]
    /// What libuv is asked to watch now (`UV_READABLE | UV_WRITABLE | UV_DISCONNECT`).
    private var armed: Int32 = 0
    /// A libuv error for the fd (`EBADF`): every waiter then fails with it.
    private(set) var failure: Int32 = 0
    private(set) var isClosed = false
    /// ``ReadinessWatch``es holding the watcher open while nobody waits.
    var pins = 0

    private init(hub: Hub, fd: Int32, handle: UnsafeMutablePointer<uv_poll_t>) {
        self.hub = hub
        self.fd = fd
        self.handle = handle
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        hub.register(self)
    }

    /// The hub's watcher for `fd`, made on first use.
    ///
    /// Throws ``UVError``: `EBADF` for a closed fd, `EEXIST` when libuv already watches it
    /// (a socket Weave owns), `EPERM` for a regular file (epoll cannot watch those).
    static func watcher(for fd: Int32, on hub: Hub) throws -> FDWatcher {
        let table = PollTable.of(hub)
        if let existing = table.watchers[fd] { return existing }
        guard fd >= 0, fcntl(fd, F_GETFD) != -1 else {
            throw UVError(UV_EBADF.rawValue, operation: "poll", argument: "fd \(fd)")
        }
        let handle = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
        // Also makes the fd non-blocking, as readiness-driven code needs.
        let status = uv_poll_init(hub.loop, handle, fd)
        guard status == 0 else {
            handle.deallocate()  // never initialised as a handle: no close needed
            throw UVError(status, operation: "poll", argument: "fd \(fd)")
        }
        let watcher = FDWatcher(hub: hub, fd: fd, handle: handle)
        table.watchers[fd] = watcher
        return watcher
    }

    func setInterest(of poller: Poller, _ events: Poller.Events?) {
        if let events, !events.isEmpty {
            pollers[ObjectIdentifier(poller)] = (Unmanaged.passUnretained(poller), events)
        } else {
            pollers[ObjectIdentifier(poller)] = nil
        }
        update()
    }

    /// Arms what is wanted now; closes the watcher once nothing is (and nothing pins it).
    ///
    /// A pinned watcher leaves its read interest armed after the readers left: the owner
    /// (a connection) waits to read again soon, and level-triggered readiness then needs no
    /// `epoll_ctl` per wait. `dropIdleRead` (readable fired with nobody waiting) disarms it.
    func update(dropIdleRead: Bool = false) {
        guard !isClosed else { return }
        var wanted: Int32 = 0
        if !readers.isEmpty { wanted |= Int32(UV_READABLE.rawValue) }
        if !writers.isEmpty { wanted |= Int32(UV_WRITABLE.rawValue) }
        for (_, entry) in pollers {
            let poller = entry.poller.takeUnretainedValue()
            guard poller.isArmed(fd) else { continue }
            wanted |= entry.events.uvEvents
        }
        if readers.isEmpty && writers.isEmpty && pollers.isEmpty && pins == 0 {
            close()
            return
        }
        if pins > 0 && !dropIdleRead { wanted |= armed & Int32(UV_READABLE.rawValue) }
        guard wanted != armed, failure == 0 else { return }
        if wanted == 0 {
            uv_poll_stop(handle)
        } else if fcntl(fd, F_GETFD) == -1 {
            // Closed under us: arming it would abort the process inside libuv.
            fail(UV_EBADF.rawValue)
            return
        } else {
            let status = uv_poll_start(handle, wanted, fdWatcherCallback)
            if status != 0 {
                fail(status)
                return
            }
        }
        armed = wanted
    }

    /// Fails everyone waiting on the fd and stops watching it.
    private func fail(_ status: Int32) {
        failure = status
        uv_poll_stop(handle)
        armed = 0
        readers.signalAll()
        writers.signalAll()
        for (_, entry) in pollers {
            entry.poller.takeUnretainedValue().deliver(fd: fd, events: .error)
        }
    }

    fileprivate func fired(status: Int32, events: Int32) {
        var idleRead = false
        if status < 0 {
            fail(status)
        } else {
            let hangup = events & Int32(UV_DISCONNECT.rawValue) != 0
            idleRead = readers.isEmpty && events & Int32(UV_READABLE.rawValue) != 0
            if events & Int32(UV_READABLE.rawValue) != 0 || hangup { readers.signalAll() }
            if events & Int32(UV_WRITABLE.rawValue) != 0 { writers.signalAll() }
            let happened = Poller.Events(uvEvents: events)
            for (_, entry) in pollers {
                let poller = entry.poller.takeUnretainedValue()
                let relevant = happened.intersection(entry.events.union(.hangup))
                if !relevant.isEmpty { poller.deliver(fd: fd, events: relevant) }
            }
        }
        update(dropIdleRead: idleRead)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        PollTable.of(hub).watchers[fd] = nil
        handle.pointee.data = nil
        // Closing stops the watch (an EPOLL_CTL_DEL whose failure libuv ignores).
        closeAndFreeHandle(handle)
        hub.unregister(self)
        readers.signalAll()
        writers.signalAll()
    }

    func closeForShutdown() { close() }

    var waitDescription: String { "fd \(fd)" }
}

/// The per-hub table of fd watchers, kept in the hub's ``Hub/layerState``.
final class PollTable {
    var watchers: [Int32: FDWatcher] = [:]

    static func of(_ hub: Hub) -> PollTable {
        let key = ObjectIdentifier(PollTable.self)
        if let table = hub.layerState[key] { return unsafeDowncast(table, to: PollTable.self) }
        let table = PollTable()
        hub.layerState[key] = table
        return table
    }
}

private let fdWatcherCallback: uv_poll_cb = { handle, status, events in
    guard let data = handle?.pointee.data else { return }
    // Retained for the call: the update at its end may close the watcher.
    let watcher = Unmanaged<FDWatcher>.fromOpaque(data).takeUnretainedValue()
    withExtendedLifetime(watcher) { watcher.fired(status: status, events: events) }
}
