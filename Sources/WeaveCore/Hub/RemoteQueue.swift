import CLibUV
import Synchronization

/// The only way into a hub from another thread: jobs pushed here under a mutex, then one
/// `uv_async_send`, which libuv coalesces; the hub drains the whole queue per wake-up and
/// runs the jobs on its own thread (they must not block).
package final class RemoteQueue: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var closed = false
    }

    private let state = Mutex(State())
    /// Owned by the hub; freed in its close callback, after `close()` stops all sends.
    nonisolated(unsafe) let handle: UnsafeMutablePointer<uv_async_t>

    init(handle: UnsafeMutablePointer<uv_async_t>) {
        self.handle = handle
    }

    var uvHandle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
    }

    /// Queues `job` for the hub's thread. Safe from any thread. Returns false once the hub
    /// has closed (the job is dropped).
    @discardableResult
    package func send(_ job: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.jobs.append(job)
            // Inside the lock, so no send can race with the handle's close.
            uv_async_send(handle)
            return true
        }
    }

    /// Takes every queued job (hub thread).
    func drain() -> [@Sendable () -> Void] {
        state.withLock { state in
            let jobs = state.jobs
            state.jobs.removeAll()
            return jobs
        }
    }

    /// Refuses further sends; returns the jobs that never ran.
    func close() -> [@Sendable () -> Void] {
        state.withLock { state in
            state.closed = true
            let jobs = state.jobs
            state.jobs.removeAll()
            return jobs
        }
    }
}
