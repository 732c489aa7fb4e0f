import CLibUV
import CWeaveProcess
import Glibc
import WeaveCore

/// A started child watched on its hub's loop through a pidfd (readable once the child has
/// exited): reaps it as soon as it exits, with `waitpid` on its own pid only, so that no
/// other code's children are ever reaped here. Retained by its poll handle until reaped.
final class SpawnedChild {
    unowned(unsafe) let hub: Hub
    let pid: Int32
    /// Closed once the child is reaped (or if watching it fails).
    private var pidfd: Int32
    /// Freed in its close callback.
    private let poll: UnsafeMutablePointer<uv_poll_t>
    /// How the child ended, once reaped.
    private(set) var status: TerminationStatus?
    /// Called once on the hub's thread when the child has been reaped by the loop (not
    /// after ``killAndReap()``), then dropped, with whatever it captured.
    var onExit: ((TerminationStatus) -> Void)?

    /// Watches `pid` through `pidfd`. If the loop cannot watch it, the child is killed and
    /// reaped and ``ProcessError/Code/spawnFailed`` is thrown.
    init(hub: Hub, pid: Int32, pidfd: Int32, what: String) throws {
        self.hub = hub
        self.pid = pid
        self.pidfd = pidfd
        poll = .allocate(capacity: 1)
        var status = uv_poll_init(hub.loop, poll, pidfd)
        if status == 0 {
            status = uv_poll_start(poll, Int32(UV_READABLE.rawValue), childReadable)
            if status != 0 { uv_close(rawHandle) { UnsafeMutableRawPointer($0)?.deallocate() } }
        } else {
            poll.deallocate()
        }
        guard status == 0 else {
            Glibc.kill(pid, SIGKILL)
            var code: Int32 = 0
            var signal: Int32 = 0
            _ = weave_spawn_reap(pid, 1, &code, &signal)
            Glibc.close(pidfd)
            throw ProcessError(.spawnFailed, "cannot watch \(what) (pid \(pid)): \(UVError(status, operation: "poll", argument: "pidfd"))")
        }
        poll.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    private var rawHandle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(poll).assumingMemoryBound(to: uv_handle_t.self)
    }

    /// Sends `signal` unless the child has been reaped, through its pidfd (so never to
    /// another process that reused the pid, even if something else reaped the child).
    /// Returns 0 or the errno; a child that exited but is not reaped yet is not an error (a
    /// zombie takes signals).
    func send(_ signal: Int32) -> Int32 {
        guard status == nil else { return 0 }
        return weave_spawn_signal(pidfd, signal)
    }

    /// Whether the child keeps the loop alive.
    func setReferenced(_ referenced: Bool) {
        guard status == nil else { return }
        if referenced { uv_ref(rawHandle) } else { uv_unref(rawHandle) }
    }

    /// Kills the child and reaps it now (hub shutdown: the loop is about to close, and a
    /// child must not outlive it as a zombie or an orphan). ``onExit`` is not called.
    @discardableResult
    func killAndReap() -> TerminationStatus {
        if let status { return status }
        _ = weave_spawn_signal(pidfd, SIGKILL)
        var code: Int32 = 0
        var signal: Int32 = 0
        let reaped = weave_spawn_reap(pid, 1, &code, &signal)
        let ended = reaped == 1 ? TerminationStatus(exitStatus: Int64(code), signal: signal) : .signaled(SIGKILL)
        onExit = nil
        finish(ended)
        return ended
    }

    /// The pidfd became readable: the child has exited.
    fileprivate func exited() {
        var code: Int32 = 0
        var signal: Int32 = 0
        let reaped = weave_spawn_reap(pid, 0, &code, &signal)
        if reaped == 0 { return }  // not yet (a spurious wake-up)
        // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere);
        // the status is lost, and the child is gone all the same.
        let ended = reaped == 1 ? TerminationStatus(exitStatus: Int64(code), signal: signal) : .exited(0)
        finish(ended)
        let callback = onExit
        onExit = nil
        callback?(ended)
    }

    private func finish(_ ended: TerminationStatus) {
        status = ended
        uv_poll_stop(poll)
        Glibc.close(pidfd)
        pidfd = -1
        let retained = poll.pointee.data
        poll.pointee.data = nil
        uv_close(rawHandle) { UnsafeMutableRawPointer($0)?.deallocate() }
        // Balances the retain taken in init: the caller holds its own reference.
        if let retained { Unmanaged<SpawnedChild>.fromOpaque(retained).release() }
    }
}

private let childReadable: uv_poll_cb = { handle, _, _ in
    guard let data = handle?.pointee.data else { return }
    // A strong local: `exited` releases the handle's retain.
    let child = Unmanaged<SpawnedChild>.fromOpaque(data).takeUnretainedValue()
    child.exited()
}
