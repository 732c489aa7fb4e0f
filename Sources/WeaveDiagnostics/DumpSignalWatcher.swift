import CLibUV
import Glibc
import WeaveCore

/// Logs the hub's dump when the process receives `SIGUSR1` (``Hub/Configuration/dumpsOnSIGUSR1``).
///
/// A `uv_signal_t`, unreferenced so it never keeps an idle hub alive (nor hides a
/// deadlock). Owned by the hub; the handle memory is freed in its close callback.
final class DumpSignalWatcher {
    private let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
    private var isOpen = false

    init(hub: Hub) {
        guard uv_signal_init(hub.loop, handle) == 0 else {
            hub.logger.debug("SIGUSR1 dump unavailable: uv_signal_init failed")
            handle.deallocate()
            return
        }
        isOpen = true
        handle.pointee.data = Unmanaged.passUnretained(hub).toOpaque()
        let status = uv_signal_start(handle, { handle, _ in
            guard let data = handle?.pointee.data else { return }
            let hub = Unmanaged<Hub>.fromOpaque(data).takeUnretainedValue()
            hub.logger.notice("hub dump (SIGUSR1)", metadata: ["dump": "\(hub.dump())"])
        }, SIGUSR1)
        if status != 0 { hub.logger.debug("SIGUSR1 dump unavailable", metadata: ["error": "\(UVError(status, operation: "uv_signal_start"))"]) }
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        handle.pointee.data = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) {
            UnsafeMutableRawPointer($0)?.deallocate()
        }
    }
}
