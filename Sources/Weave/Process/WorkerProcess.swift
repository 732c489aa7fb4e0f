import CLibUV
import Glibc

/// One worker process started with `uv_spawn` (never `fork`: the parent has threads),
/// re-executing a program that calls ``Weave/main(tasks:)``, with a socketpair on its fd 3
/// for frames. Its stdout and stderr are the parent's; its stdin is closed.
final class WorkerProcess: HubResource {
    unowned(unsafe) let hub: Hub
    /// Freed in its close callback, after the exit callback.
    private let handle: UnsafeMutablePointer<uv_process_t>
    let pid: Int32
    let channel: FrameChannel
    /// Called once on the hub's thread when the process has exited: (exit status, signal).
    var onExit: (Int64, Int32) -> Void = { _, _ in }
    private(set) var hasExited = false

    /// Starts `executable` in worker mode. Throws ``ProcessError/Code/spawnFailed`` naming
    /// the executable and libuv's reason (`ENOENT`, `EACCES`, `EAGAIN`...).
    ///
    /// `inheritedDescriptors` are handed to the child at fds 4, 5, ... in order (the ends of
    /// pipes and broker links that travel inside a ``ChildProcess``'s task); the caller
    /// still owns (and closes) its copies.
    init(hub: Hub, executable: String, environment: [String], maximumFrameSize: Int, label: String, inheritedDescriptors: [Int32] = []) throws {
        self.hub = hub
        let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, pipe, 0)
        let handle = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        handle.initialize(to: uv_process_t())

        var stdio = [uv_stdio_container_t](repeating: uv_stdio_container_t(), count: 4 + inheritedDescriptors.count)
        stdio[0].flags = UV_IGNORE
        stdio[1].flags = UV_INHERIT_FD
        stdio[1].data.fd = 1
        stdio[2].flags = UV_INHERIT_FD
        stdio[2].data.fd = 2
        stdio[3].flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_READABLE_PIPE.rawValue | UV_WRITABLE_PIPE.rawValue)
        stdio[3].data.stream = UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self)
        for (index, fd) in inheritedDescriptors.enumerated() {
            stdio[4 + index].flags = UV_INHERIT_FD
            stdio[4 + index].data.fd = fd
        }

        let status = spawnProcess(loop: hub.loop, handle: handle, arguments: [executable],
                                  environment: environment, workingDirectory: nil, stdio: stdio, onExit: workerExited)
        guard status == 0 else {
            // A failed spawn still initialised the handle: it must be closed, as must the pipe.
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
            FrameChannel.closeAndFree(pipe)
            throw ProcessError(.spawnFailed, "cannot start worker \(executable): \(String(cString: uv_err_name(status))) (\(String(cString: uv_strerror(status))))")
        }
        self.handle = handle
        self.pid = handle.pointee.pid
        self.channel = FrameChannel(hub: hub, handle: pipe, maximumFrameSize: maximumFrameSize, label: "\(label) \(handle.pointee.pid)")
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        // Registered until reaped: at hub shutdown a live worker is killed and reaped, never
        // left a zombie (or an orphan) when the loop closes its handle.
        hub.register(self)
    }

    func closeForShutdown() { killAndReap() }

    /// Sends `signal` to the process if it is still running.
    func kill(_ signal: Int32 = SIGKILL) {
        guard !hasExited else { return }
        uv_process_kill(handle, signal)
    }

    /// Whether the process keeps the loop alive (an idle worker should not).
    func setReferenced(_ referenced: Bool) {
        guard !hasExited else { return }
        let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        if referenced { uv_ref(raw) } else { uv_unref(raw) }
        channel.setReferenced(referenced)
    }

    fileprivate func exited(status: Int64, signal: Int32) {
        hasExited = true
        hub.unregister(self)
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        onExit(status, signal)
        onExit = { _, _ in }
    }

    /// Kills the process and reaps it now (hub shutdown: the loop is about to close, and a
    /// child must not outlive it as a zombie or an orphan).
    func killAndReap() {
        guard !hasExited else { return }
        hub.unregister(self)
        uv_process_kill(handle, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        hasExited = true
        channel.close()
        let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        handle.pointee.data = nil
        uv_close(raw) { UnsafeMutableRawPointer($0)?.deallocate() }
        // The self-retain from init is released here since the exit callback will never run.
        Unmanaged.passUnretained(self).release()
    }
}

private let workerExited: uv_exit_cb = { handle, status, signal in
    guard let data = handle?.pointee.data else { return }
    handle?.pointee.data = nil
    let worker = Unmanaged<WorkerProcess>.fromOpaque(data).takeRetainedValue()
    worker.exited(status: status, signal: signal)
}

/// NUL-terminated C strings for `argv`/`envp`, alive for the duration of a call.
struct CStringArray {
    let strings: [String]
    init(_ strings: [String]) { self.strings = strings }

    func withPointers<R>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies + [nil]
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
