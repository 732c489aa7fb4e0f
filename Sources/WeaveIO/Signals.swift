import CLibUV
import WeaveCore

/// Waits until the process receives `signal` (such as `SIGTERM`, `SIGHUP`, `SIGUSR1`),
/// parking only the calling coroutine. Delivery is prompt: libuv turns the signal into a
/// loop event (no polling).
///
/// While a coroutine waits, the signal's default action (terminating the process) does not
/// happen; it comes back once no coroutine waits. Waiting for a signal keeps the hub alive:
/// it is not a deadlock. Throws ``UVError`` for a signal number libuv refuses,
/// ``TimeoutError`` after `timeout` and `CancellationError` if cancelled.
public func waitForSignal(_ signal: Int32, timeout: Duration? = nil) throws {
    let coroutine = try AnyCoroutine.requireCurrent("waitForSignal")
    let hub = coroutine.hub
    let watcher = SignalWatcher(coroutine: coroutine)
    var status = uv_signal_init(hub.loop, watcher.handle)
    if status == 0 {
        status = uv_signal_start_oneshot(watcher.handle, { handle, _ in
            guard let data = handle?.pointee.data else { return }
            let watcher = Unmanaged<SignalWatcher>.fromOpaque(data).takeUnretainedValue()
            watcher.received = true
            if let waiter = watcher.waiter { waiter.hub.makeReady(waiter) }
        }, signal)
    }
    defer { watcher.close() }
    guard status == 0 else { throw UVError(status, operation: "signal", argument: "\(signal)") }
    while !watcher.received {
        try coroutine.park(.other("signal \(signal)"), timeout: timeout)
    }
}

/// One `uv_signal_t`, freed in its close callback.
private final class SignalWatcher {
    let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
    var waiter: AnyCoroutine?
    var received = false

    init(coroutine: AnyCoroutine) {
        waiter = coroutine
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Stops watching; the handle memory goes once libuv has closed it.
    func close() {
        waiter = nil
        handle.pointee.data = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) {
            UnsafeMutableRawPointer($0)?.deallocate()
        }
    }
}
