import CLibUV
import CWeaveContext

extension Hub {
    /// Closes every libuv handle, then the loop, and frees what the hub owns. Called once
    /// all coroutines have finished.
    func close() {
        closeAttachments()
        // Run, not drop, jobs that arrived after the last drain: one may be all that resumes
        // a task waiting on this hub (a bridge); spawning fails now with `shuttingDown`.
        for job in remote.close() { job() }
        closeResources()
        _ = timers.removeAll()
        closeHandle(UnsafeMutableRawPointer(timerHandle).assumingMemoryBound(to: uv_handle_t.self))
        closeHandle(UnsafeMutableRawPointer(prepareHandle).assumingMemoryBound(to: uv_handle_t.self))
        isRemoteHandleClosed = true
        closeHandle(remote.uvHandle)
        // Any handle still open would keep uv_loop_close from succeeding; resources closed
        // theirs above, so this only catches handles opened outside that discipline.
        uv_walk(loop, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            uv_close(handle) { UnsafeMutableRawPointer($0)?.deallocate() }
        }, nil)
        uv_run(loop, UV_RUN_DEFAULT)
        let status = uv_loop_close(loop)
        if status != 0 { logger.warning("libuv loop did not close", metadata: ["error": "\(UVError(status, operation: "uv_loop_close"))"]) }
        else { loop.deallocate() }
        if !leakedCoroutines {
            _ = weave_sched_take_stack_cache(sched)  // in the slabs that destroy() unmaps
            stacks.destroy()
        }
        weave_altstack_uninstall(&altstackStorage.pointee)
        altstackStorage.deallocate()
        weave_sched_set_current(nil)
        if !leakedCoroutines { sched.deallocate() }
    }

    private func closeHandle(_ handle: UnsafeMutablePointer<uv_handle_t>) {
        uv_close(handle) { handle in
            // The handle's memory is freed only here, once libuv is done with it.
            UnsafeMutableRawPointer(handle)?.deallocate()
        }
    }
}
