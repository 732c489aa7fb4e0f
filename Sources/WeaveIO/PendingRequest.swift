import CLibUV
import WeaveCore

/// A libuv request (`uv_connect_t`, `uv_write_t`, `uv_shutdown_t`) and the coroutine waiting
/// on it. The box retains itself through the request's `data` until libuv's callback has
/// run, so the request memory outlives a caller that was cancelled or timed out.
class PendingRequest<Request> {
    /// Freed in ``finish(_:status:)`` (or ``release()`` if never submitted).
    let request = UnsafeMutablePointer<Request>.allocate(capacity: 1)
    /// Cleared when the caller stops waiting.
    var waiter: AnyCoroutine?
    var isDone = false
    var status: Int32 = 0

    init(waiter: AnyCoroutine) {
        self.waiter = waiter
        // Every uv request starts with `void *data`.
        UnsafeMutableRawPointer(request).storeBytes(of: Unmanaged.passRetained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
    }

    /// Undoes the self-retain of a request libuv refused (its callback will never run).
    final func release() {
        Unmanaged<PendingRequest>.passUnretained(self).release()
        request.deallocate()
    }

    /// Runs once the request completes, before the waiter is woken.
    func didComplete() {}

    /// libuv's callback: records the status, wakes the waiter, frees the request.
    static func finish(_ raw: UnsafeMutableRawPointer?, status: Int32) {
        guard let raw else { return }
        let box = Unmanaged<PendingRequest>.fromOpaque(raw.load(as: UnsafeMutableRawPointer.self)).takeRetainedValue()
        box.status = status
        box.isDone = true
        box.didComplete()
        if let waiter = box.waiter { waiter.hub.makeReady(waiter) }
        box.request.deallocate()
    }
}
