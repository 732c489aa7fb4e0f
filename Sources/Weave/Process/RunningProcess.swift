import CLibUV
import Glibc

/// A running child process started by ``Subprocess/spawn(_:arguments:environment:workingDirectory:standardInput:standardOutput:standardError:killGracePeriod:)``,
/// with streams to its standard input, output and error while it runs.
///
/// ```swift
/// let cat = try Subprocess.spawn("cat")
/// try cat.standardInput!.write("hello\n")
/// let echoed = try cat.standardOutput!.readLine()      // "hello"
/// cat.standardInput!.close()                          // cat reads end of file and exits
/// let status = try cat.wait(timeout: .seconds(5))     // .exited(0)
/// ```
///
/// Reads, writes and ``wait(timeout:)`` park only the calling coroutine; the hub keeps
/// running its other coroutines, and does not report a deadlock while the child lives (its
/// libuv process handle keeps the loop alive). The hub reaps the child as soon as it exits,
/// whether or not anyone waits; the object stays alive (and tracked by the hub) until then,
/// even when dropped. When the hub shuts down, a child still running is killed with
/// `SIGKILL` and reaped: it is never left a zombie or an orphan of a finished hub.
///
/// Use it on the hub that spawned it. Write from one coroutine and read each output stream
/// from one coroutine at a time (a child that fills one pipe while the parent blocks on
/// another deadlocks, as with any pipes: read standard output and error from different
/// coroutines, or redirect one of them).
public final class RunningProcess: HubResource, WaitTarget, CustomStringConvertible {
    unowned(unsafe) let hub: Hub
    /// Freed in its close callback, after the exit callback (or after shutdown reaps).
    private let handle: UnsafeMutablePointer<uv_process_t>
    /// The child's process id.
    public let pid: Int32
    /// The program run, as found in `PATH`.
    public let executable: String
    /// The stream to the child's standard input, or nil unless it was spawned with `.pipe`.
    /// Close it (``StreamConnection/close()``) to let the child read end of file.
    public let standardInput: StreamConnection?
    /// The stream from the child's standard output, or nil unless it was spawned with `.pipe`.
    public let standardOutput: StreamConnection?
    /// The stream from the child's standard error, or nil unless it was spawned with `.pipe`.
    public let standardError: StreamConnection?
    /// How long ``wait(timeout:)`` leaves the child between `SIGTERM` and `SIGKILL` on timeout.
    public let killGracePeriod: Duration
    /// How the child ended, once the hub has reaped it; nil while it runs.
    public private(set) var status: TerminationStatus?
    private var waiters = WaitQueue()

    /// Spawns `executable` (already resolved) on `hub`. `environment` nil inherits this
    /// process's. Throws ``ProcessError/Code/spawnFailed`` with libuv's reason.
    init(hub: Hub, executable: String, arguments: [String], environment: [String]?, workingDirectory: String?,
         standardInput: Subprocess.Redirection, standardOutput: Subprocess.Redirection,
         standardError: Subprocess.Redirection, killGracePeriod: Duration) throws {
        self.hub = hub
        self.executable = executable
        self.killGracePeriod = killGracePeriod
        let handle = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        handle.initialize(to: uv_process_t())

        // Pipes are initialised before the spawn and owned by the ChildPipe wrappers after it.
        var pipes: [UnsafeMutablePointer<uv_pipe_t>?] = [nil, nil, nil]
        var stdio = [uv_stdio_container_t](repeating: uv_stdio_container_t(), count: 3)
        for (index, redirection) in [standardInput, standardOutput, standardError].enumerated() {
            switch redirection {
            case .pipe:
                let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
                uv_pipe_init(hub.loop, pipe, 0)
                pipes[index] = pipe
                // Flags are from the child's side: it reads its stdin, writes its outputs.
                let direction = index == 0 ? UV_READABLE_PIPE.rawValue : UV_WRITABLE_PIPE.rawValue
                stdio[index].flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | direction)
                stdio[index].data.stream = UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self)
            case .inherit:
                stdio[index].flags = UV_INHERIT_FD
                stdio[index].data.fd = Int32(index)
            case .discard:
                // libuv opens /dev/null for an ignored descriptor.
                stdio[index].flags = UV_IGNORE
            }
        }

        let status = spawnProcess(loop: hub.loop, handle: handle, arguments: [executable] + arguments,
                                  environment: environment, workingDirectory: workingDirectory,
                                  stdio: stdio, onExit: childExited)
        guard status == 0 else {
            // A failed spawn still initialised the handle (libuv reaped the failed child):
            // close it, and the unopened pipes.
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
            for case let pipe? in pipes { closeAndFreeHandle(pipe) }
            throw ProcessError(.spawnFailed, "cannot start \(executable): \(String(cString: uv_err_name(status))) (\(String(cString: uv_strerror(status))))")
        }
        self.handle = handle
        let pid = handle.pointee.pid
        self.pid = pid
        let name = String(executable.split(separator: "/").last ?? Substring(executable))
        self.standardInput = pipes[0].map { ChildPipe(hub: hub, handle: $0, label: "stdin of \(pid) (\(name))") }
        self.standardOutput = pipes[1].map { ChildPipe(hub: hub, handle: $0, label: "stdout of \(pid) (\(name))") }
        self.standardError = pipes[2].map { ChildPipe(hub: hub, handle: $0, label: "stderr of \(pid) (\(name))") }
        // Retained until reaped (released by the exit callback, or by shutdown's reap), so
        // dropping the object never loses track of a running child.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        hub.register(self)
    }

    /// Whether the child has been reaped.
    public var hasExited: Bool { status != nil }

    // MARK: - Waiting

    /// Waits until the child exits and returns how it ended; at once if it already has.
    ///
    /// Parks only the calling coroutine. With a `timeout` that passes first, the child is
    /// sent `SIGTERM`, then `SIGKILL` once ``killGracePeriod`` has passed, and is reaped
    /// before ``TimeoutError`` is thrown. Several coroutines may wait at once.
    ///
    /// - Throws: ``TimeoutError`` (the child was terminated and reaped), `CancellationError`,
    ///   a `withTimeout` scope's ``TimeoutError``, or ``WeaveError`` outside a coroutine.
    ///   When the wait is cancelled (or its scope expires) the child is killed with `SIGKILL`
    ///   and the error is thrown at once: the child stays tracked by the hub, which reaps it
    ///   moments later (or at shutdown at the latest), so it never stays a zombie.
    public func wait(timeout: Duration? = nil) throws -> TerminationStatus {
        if let status { return status }
        let coroutine = try AnyCoroutine.requireCurrent("RunningProcess.wait")
        do {
            return try awaitExit(coroutine, timeout: timeout)
        } catch let error as TimeoutError where error.scope == nil && timeout != nil {
            try terminateAndReap(coroutine)
            throw TimeoutError(operation: "wait for \(self)", timeout: timeout.unsafelyUnwrapped)
        } catch {
            signal(SIGKILL)
            throw error
        }
    }

    /// Parks until the hub has reaped the child; any error (timeout, cancellation) is
    /// thrown as is, and the child left alone.
    func awaitExit(_ coroutine: AnyCoroutine, timeout: Duration?) throws -> TerminationStatus {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while status == nil {
            try coroutine.wait(on: self, "wait", timeout: deadline.map { $0 - .now },
                               enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        }
        return status.unsafelyUnwrapped
    }

    /// `SIGTERM`, up to ``killGracePeriod`` for the child to exit, then `SIGKILL` and a wait
    /// until the hub has reaped it. Interrupted (cancelled), it kills at once and rethrows.
    func terminateAndReap(_ coroutine: AnyCoroutine) throws {
        guard status == nil else { return }
        signal(SIGTERM)
        let deadline = ContinuousClock.now + killGracePeriod
        do {
            while status == nil && ContinuousClock.now < deadline {
                try coroutine.wait(on: self, "wait (terminating)", timeout: deadline - .now,
                                   enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
            }
        } catch let error as TimeoutError where error.scope == nil {
            _ = error  // the grace period is over
        } catch {
            signal(SIGKILL)
            throw error
        }
        guard status == nil else { return }
        signal(SIGKILL)
        // SIGKILL cannot be caught: the exit callback comes as soon as the kernel is done.
        // Interrupted here, the child stays tracked and the hub reaps it moments later.
        while status == nil {
            try coroutine.wait(on: self, "wait (killed)", timeout: nil,
                               enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        }
    }

    // MARK: - Signals

    /// Asks the child to stop: sends `SIGTERM`. Does not wait (``wait(timeout:)`` does).
    /// Does nothing once the child has exited.
    ///
    /// - Throws: ``UVError`` if the signal cannot be sent (`EPERM`).
    public func terminate() throws {
        try kill(signal: SIGTERM)
    }

    /// Sends `signal` (default `SIGKILL`) to the child. Does not wait; does nothing once the
    /// child has been reaped (so a recycled pid is never signalled).
    ///
    /// - Throws: ``UVError`` for an invalid signal number (`EINVAL`) or `EPERM`; a child
    ///   that exited but is not reaped yet (`ESRCH`) is not an error.
    public func kill(signal: Int32 = SIGKILL) throws {
        guard status == nil else { return }
        let result = uv_process_kill(handle, signal)
        guard result == 0 || result == UV_ESRCH.rawValue else {
            throw UVError(result, operation: "kill \(TerminationStatus.signalName(signal))", argument: "\(self)")
        }
    }

    /// Sends `signal` while the child is running, ignoring failures (a child already gone).
    private func signal(_ signal: Int32) {
        guard status == nil else { return }
        uv_process_kill(handle, signal)
    }

    // MARK: - Closing

    /// Closes the pipes to the child (a blocked reader or writer gets
    /// ``IOError/Code/closed``). The child itself keeps running: ``kill(signal:)`` it or
    /// ``wait(timeout:)`` for it; the hub still reaps it when it exits. Closing twice does nothing.
    public func close() {
        standardInput?.close()
        standardOutput?.close()
        standardError?.close()
    }

    /// Hub shutdown: every coroutine has finished and the loop is about to close, so the
    /// child is killed and reaped here and now (the exit callback will never run).
    func closeForShutdown() {
        close()
        guard status == nil else { return }
        hub.unregister(self)
        uv_process_kill(handle, SIGKILL)
        var raw: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &raw, 0) } while reaped < 0 && errno == EINTR
        // WIFSIGNALED/WTERMSIG are macros Swift cannot import.
        let signalled = (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f
        status = signalled ? .signaled(raw & 0x7f) : .exited((raw >> 8) & 0xff)
        handle.pointee.data = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        // Balances the retain from init: the exit callback that would have released it never runs.
        Unmanaged.passUnretained(self).release()
    }

    fileprivate func exited(_ status: TerminationStatus) {
        self.status = status
        hub.unregister(self)
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        waiters.signalAll()
    }

    /// `process 4121 (cat)`: how errors and deadlock reports name the child.
    public var description: String {
        "process \(pid) (\(executable.split(separator: "/").last.map(String.init) ?? executable))"
    }

    var waitDescription: String { "\(self)" }
}

private let childExited: uv_exit_cb = { handle, exitStatus, signal in
    guard let data = handle?.pointee.data else { return }
    handle?.pointee.data = nil
    // Balances the retain taken at spawn, once the child has been handled.
    let child = Unmanaged<RunningProcess>.fromOpaque(data).takeRetainedValue()
    child.exited(TerminationStatus(exitStatus: exitStatus, signal: signal))
}
