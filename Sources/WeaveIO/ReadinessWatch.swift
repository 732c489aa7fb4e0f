import WeaveCore

/// One fd's readiness watch, held open across waits: for a connection that waits on its
/// socket again and again (a C client library's non-blocking calls). The hub's watcher for
/// the fd is made once and armed only while a wait needs it (its read interest lingers until
/// it fires with nobody waiting), instead of being made and closed around every wait as
/// ``waitReadable(fd:timeout:)`` does.
///
/// Belongs to the hub it was made on. **Close it before the fd is closed**: the hub would
/// otherwise keep watching a number the kernel may hand to another file.
package final class ReadinessWatch {
    /// The fd watched.
    package let fd: Int32
    private let watcher: FDWatcher
    private var isClosed = false

    /// Watches `fd` on the current hub. Throws `WeaveError` outside a coroutine, ``UVError``
    /// as ``waitReadable(fd:timeout:)`` does.
    package init(fd: Int32) throws {
        let coroutine = try AnyCoroutine.requireCurrent("ReadinessWatch")
        self.fd = fd
        watcher = try FDWatcher.watcher(for: fd, on: coroutine.hub)
        watcher.pins += 1
    }

    deinit { close() }

    /// Parks the calling coroutine until the fd is readable (or hung up); throws as
    /// ``waitReadable(fd:timeout:)`` does, and ``IOError/Code/closed`` once closed.
    package func waitReadable(timeout: Duration? = nil) throws {
        try wait(writable: false, timeout: timeout)
    }

    /// Parks the calling coroutine until the fd is writable; see ``waitReadable(timeout:)``.
    package func waitWritable(timeout: Duration? = nil) throws {
        try wait(writable: true, timeout: timeout)
    }

    private func wait(writable: Bool, timeout: Duration?) throws {
        // Closed by us, or by the hub's shutdown.
        if isClosed || watcher.isClosed { throw IOError(.closed, "fd \(fd): readiness watch is closed") }
        let coroutine = try AnyCoroutine.requireCurrent(writable ? "waitWritable" : "waitReadable")
        try waitReady(on: watcher, coroutine: coroutine, writable: writable, timeout: timeout)
    }

    /// Stops watching; the hub's watcher closes once no other wait uses it. Does not close
    /// the fd. Closing twice does nothing.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        watcher.pins -= 1
        watcher.update(dropIdleRead: true)
    }
}
