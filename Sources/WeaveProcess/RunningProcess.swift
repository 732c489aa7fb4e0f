import CLibUV
import CWeaveProcess
import Glibc
import WeaveCore
import WeaveIO

/// A running child process started by ``Command/spawn(_:arguments:environment:workingDirectory:standardInput:standardOutput:standardError:killGracePeriod:parentDeathSignal:)``,
/// with streams to its standard input, output and error while it runs.
///
/// ```swift
/// let cat = try Command.spawn("cat")
/// try cat.standardInput!.write("hello\n")
/// let echoed = try cat.standardOutput!.readLine()      // "hello"
/// cat.standardInput!.close()                          // cat reads end of file and exits
/// let status = try cat.wait(timeout: .seconds(5))     // .exited(0)
/// ```
///
/// Reads, writes and ``wait(timeout:)`` park only the calling coroutine; the hub keeps
/// running its other coroutines, and does not report a deadlock while the child lives (the
/// hub's watch on it keeps the loop alive). The hub reaps the child as soon as it exits,
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
    /// The child, watched on the hub's loop until reaped.
    private let child: SpawnedChild
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
    /// process's. Throws ``ProcessError/Code/spawnFailed`` with the reason.
    init(hub: Hub, executable: String, arguments: [String], environment: [String]?, workingDirectory: String?,
         standardInput: Command.Redirection, standardOutput: Command.Redirection,
         standardError: Command.Redirection, killGracePeriod: Duration, parentDeathSignal: Int32?) throws {
        self.hub = hub
        self.executable = executable
        self.killGracePeriod = killGracePeriod

        // Pipes, close-on-exec: the child gets its end as 0, 1 or 2 and nothing else of
        // ours; this process keeps the other end.
        var parentEnds: [Int32?] = [nil, nil, nil]
        var descriptors: [Int32] = []
        var created: [Int32] = []
        func closeCreated() { for fd in created { Glibc.close(fd) } }
        for (index, redirection) in [standardInput, standardOutput, standardError].enumerated() {
            switch redirection {
            case .pipe:
                var fds: [Int32] = [-1, -1]
                let code = weave_spawn_pipe(&fds)
                guard code == 0 else {
                    closeCreated()
                    throw ProcessError(.spawnFailed, "cannot start \(executable): pipe: \(String(cString: uv_err_name(-code))) (\(String(cString: strerror(code))))")
                }
                created += fds
                // The child reads its stdin and writes its outputs.
                let (childEnd, parentEnd) = index == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                descriptors.append(childEnd)
                parentEnds[index] = parentEnd
            case .inherit:
                descriptors.append(Int32(index))
            case .discard:
                descriptors.append(-1)  // /dev/null, opened in the child
            }
        }

        let child: SpawnedChild
        do {
            child = try spawnProcess(
                hub: hub, what: executable, path: executable, arguments: [executable] + arguments,
                environment: environment, workingDirectory: workingDirectory, descriptors: descriptors,
                deathSignal: parentDeathSignal)
        } catch {
            closeCreated()
            throw error
        }
        // The child has its copies: ours of its ends would hide its exit (no end of file).
        for fd in created where !parentEnds.contains(fd) { Glibc.close(fd) }
        self.child = child
        let pid = child.pid
        self.pid = pid
        let name = String(executable.split(separator: "/").last ?? Substring(executable))
        var streams: [StreamConnection?] = [nil, nil, nil]
        for index in 0..<3 {
            guard let fd = parentEnds[index] else { continue }
            let handle = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
            uv_pipe_init(hub.loop, handle, 0)
            let status = uv_pipe_open(handle, fd)
            if status != 0 {
                // Out of memory in libuv, at worst: the child must not run on unobserved.
                closeAndFreeHandle(handle)
                for later in parentEnds[index...].compactMap({ $0 }) { Glibc.close(later) }
                for stream in streams { stream?.close() }
                child.killAndReap()
                throw ProcessError(.spawnFailed, "cannot start \(executable): \(UVError(status, operation: "pipe open", argument: "fd \(fd)"))")
            }
            let which = ["stdin", "stdout", "stderr"][index]
            streams[index] = LabeledPipe(hub: hub, handle: handle, label: "\(which) of \(pid) (\(name))")
        }
        self.standardInput = streams[0]
        self.standardOutput = streams[1]
        self.standardError = streams[2]
        // The exit callback holds this object until the child is reaped (or shutdown reaps
        // it), so dropping the object never loses track of a running child.
        child.onExit = { status in self.exited(status) }
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
        let code = child.send(signal)
        guard code == 0 || code == ESRCH else {
            throw UVError(-code, operation: "kill \(TerminationStatus.signalName(signal))", argument: "\(self)")
        }
    }

    /// Sends `signal` while the child is running, ignoring failures (a child already gone).
    private func signal(_ signal: Int32) {
        guard status == nil else { return }
        _ = child.send(signal)
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
    package func closeForShutdown() {
        close()
        guard status == nil else { return }
        hub.unregister(self)
        status = child.killAndReap()
        waiters.signalAll()
    }

    private func exited(_ status: TerminationStatus) {
        self.status = status
        hub.unregister(self)
        waiters.signalAll()
    }

    /// `process 4121 (cat)`: how errors and deadlock reports name the child.
    public var description: String {
        "process \(pid) (\(executable.split(separator: "/").last.map(String.init) ?? executable))"
    }

    package var waitDescription: String { "\(self)" }
}
