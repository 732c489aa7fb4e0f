import CLibUV
import Glibc
import WeaveCore

/// Watches SIGINT for a ``ProcessPool``: on Ctrl-C the pool kills its workers, then the
/// signal is raised again with its default action, so the program ends as it would have
/// without a pool (Python's pool hangs here). Unreferenced: it never keeps the loop alive.
final class InterruptWatcher {
    /// Freed in its close callback.
    private let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
    private let onInterrupt: () -> Void
    private var isClosed = false

    init(hub: Hub, onInterrupt: @escaping () -> Void) throws {
        self.onInterrupt = onInterrupt
        uv_signal_init(hub.loop, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let status = uv_signal_start(handle, { handle, _ in
            guard let data = handle?.pointee.data else { return }
            Unmanaged<InterruptWatcher>.fromOpaque(data).takeUnretainedValue().interrupted()
        }, SIGINT)
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
        guard status == 0 else {
            close()
            throw UVError(status, operation: "signal", argument: "SIGINT")
        }
    }

    private func interrupted() {
        onInterrupt()
        close()
        // The default action now: the process ends by SIGINT, as its parent shell expects.
        signal(SIGINT, SIG_DFL)
        raise(SIGINT)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        handle.pointee.data = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) {
            UnsafeMutableRawPointer($0)?.deallocate()
        }
    }

    deinit { close() }
}
