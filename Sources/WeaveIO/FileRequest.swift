import CLibUV
import Glibc
import WeaveCore

/// One `uv_fs_t` on libuv's thread pool and the coroutine waiting for it.
///
/// The box retains itself through the request until libuv's callback has run, and owns the
/// data buffer the pool thread reads into or writes from: a cancelled or timed-out caller
/// can leave at once, and the late callback frees everything without touching the caller's
/// stack. Pending requests count as outside work on the hub, so a coroutine waiting for
/// the disk is never reported as a deadlock.
final class FileRequest {
    /// Freed in the callback (or in ``release()`` if libuv refused the request).
    let request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
    unowned(unsafe) let hub: Hub
    /// Cleared when the caller stops waiting.
    var waiter: AnyCoroutine?
    /// Bytes for a read or write, owned by the box (never the caller's memory).
    private(set) var data: UnsafeMutableRawBufferPointer?
    var isDone = false
    /// `uv_fs_get_result`: an fd, a byte count, 0, or a negative error.
    var result = 0
    var status: FileStatus?
    /// Runs in the callback when nobody waits any more (closes an fd opened too late).
    var whenAbandoned: ((FileRequest) -> Void)?
    /// Runs in the callback, first (the file counts its requests in flight).
    var onComplete: (() -> Void)?

    init(waiter: AnyCoroutine, dataCount: Int = 0) {
        self.hub = waiter.hub
        self.waiter = waiter
        if dataCount > 0 { data = .allocate(byteCount: dataCount, alignment: 16) }
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit { data?.deallocate() }

    /// The data buffer as libuv's `uv_buf_t`.
    var buffer: uv_buf_t {
        uv_buf_init(data?.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(data?.count ?? 0))
    }

    /// Undoes the self-retain of a request libuv refused (its callback will never run).
    func release() {
        Unmanaged<FileRequest>.fromOpaque(request.pointee.data).release()
        request.deallocate()
    }

    /// Submits with `start` (a `uv_fs_*` call given the loop, the request and the callback),
    /// then parks until the callback. Returns the result; throws ``UVError`` naming
    /// `operation` and `path`, ``TimeoutError``, `CancellationError`.
    func run(
        _ operation: String, path: String, timeout: Duration? = nil,
        _ start: (UnsafeMutablePointer<uv_loop_t>, UnsafeMutablePointer<uv_fs_t>, uv_fs_cb) -> Int32
    ) throws -> Int {
        let coroutine = waiter.unsafelyUnwrapped
        let submitted = start(hub.loop, request, fileCallback)
        guard submitted == 0 else {
            release()
            throw UVError(submitted, operation: operation, argument: path)
        }
        hub.beginOutsideWork()
        defer { waiter = nil }
        while !isDone {
            do {
                try coroutine.park(.other("\(operation) \(path)"), timeout: timeout)
            } catch {
                // Stops it if no pool thread has taken it yet; either way the callback runs.
                _ = uv_cancel(UnsafeMutableRawPointer(request).assumingMemoryBound(to: uv_req_t.self))
                throw error
            }
        }
        if result < 0 { throw UVError(Int32(result), operation: operation, argument: path) }
        return result
    }

    fileprivate func complete() {
        result = uv_fs_get_result(request)
        if result >= 0, request.pointee.fs_type == UV_FS_STAT || request.pointee.fs_type == UV_FS_FSTAT {
            status = FileStatus(uv_fs_get_statbuf(request).pointee)
        }
        uv_fs_req_cleanup(request)
        request.deallocate()
        isDone = true
        hub.endOutsideWork()
        if let onComplete {
            self.onComplete = nil
            onComplete()
        }
        if let waiter {
            hub.makeReady(waiter)
        } else if let whenAbandoned {
            whenAbandoned(self)
        }
        self.whenAbandoned = nil
    }
}

private let fileCallback: uv_fs_cb = { request in
    guard let request else { return }
    Unmanaged<FileRequest>.fromOpaque(request.pointee.data).takeRetainedValue().complete()
}
