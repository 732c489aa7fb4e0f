import CLibUV
import WeaveCore

/// Waits until `fd` is readable (data, a pending connection, or the peer's end of stream),
/// parking only the calling coroutine: for descriptors Weave does not own (a library's
/// socket, a pipe from elsewhere), read with non-blocking calls once this returns.
///
/// The first wait makes `fd` non-blocking (libuv's `uv_poll_init` does). Any number of
/// coroutines may wait on one fd; all wake when it becomes readable. Never close `fd`
/// while a coroutine waits on it: finish or cancel the wait first (arming a closed fd
/// would abort the process inside libuv; Weave checks and fails with `EBADF` instead, but
/// cannot notice a number the kernel already reused).
///
/// Throws ``UVError`` (`poll fd 7: EBADF`; `EEXIST` for a socket Weave already owns;
/// `EPERM` for a regular file, which is always ready), ``TimeoutError``, `CancellationError`.
public func waitReadable(fd: Int32, timeout: Duration? = nil) throws {
    try waitReady(fd: fd, writable: false, timeout: timeout)
}

/// Waits until `fd` is writable (room in its send buffer, or a connect finished); see
/// ``waitReadable(fd:timeout:)``.
public func waitWritable(fd: Int32, timeout: Duration? = nil) throws {
    try waitReady(fd: fd, writable: true, timeout: timeout)
}

private func waitReady(fd: Int32, writable: Bool, timeout: Duration?) throws {
    let coroutine = try AnyCoroutine.requireCurrent(writable ? "waitWritable" : "waitReadable")
    try waitReady(on: FDWatcher.watcher(for: fd, on: coroutine.hub), coroutine: coroutine, writable: writable, timeout: timeout)
}

/// Parks `coroutine` on `watcher` until its fd is writable (or readable).
func waitReady(on watcher: FDWatcher, coroutine: AnyCoroutine, writable: Bool, timeout: Duration?) throws {
    defer { watcher.update() }
    try coroutine.wait(
        on: watcher, writable ? "writable" : "readable", timeout: timeout,
        enqueue: {
            if writable { watcher.writers.append($0) } else { watcher.readers.append($0) }
            watcher.update()
        },
        dequeue: { if writable { watcher.writers.remove($0) } else { watcher.readers.remove($0) } })
    if watcher.failure != 0 {
        throw UVError(watcher.failure, operation: "poll", argument: "fd \(watcher.fd)")
    }
}
