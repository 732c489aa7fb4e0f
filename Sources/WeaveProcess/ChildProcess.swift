import Glibc
import WeaveCore

/// A child process running one ``ProcessTask`` (Python's `multiprocessing.Process`, with a
/// `Codable` task instead of a target function).
///
/// ```swift
/// let child = try ChildProcess(CountPrimes(below: 100_000))
/// print(child.pid, try child.join(timeout: .seconds(30)))
/// ```
///
/// The child re-executes this program (or `executable`), which must call
/// ``ProcessWorker/main(tasks:)`` first with the task's type registered; there it runs the task on
/// its own hub, sends the output back and exits. The child dies with its parent
/// (`PR_SET_PDEATHSIG`), and the hub's shutdown kills and reaps a child still running:
/// none is left a zombie or an orphan.
///
/// **Handles in the task.** A task may carry a ``ProcessPipe`` end, a ``ProcessQueue``,
/// a ``ManagedDictionary``, a ``ManagedList`` or a ``ProcessLock``. While the task is
/// encoded here each of them hands a descriptor to the child (inherited at fds 4, 5, ...),
/// and the parent closes its copies once the child has started.
///
/// Dropping the handle without joining lets the child finish its task; its output is
/// discarded.
public final class ChildProcess<Task: ProcessTask> {
    /// The child's process id.
    public let pid: Int32
    /// How the child ended; nil while it runs.
    public private(set) var exitStatus: TerminationStatus?
    private let process: WorkerProcess
    private let executable: String
    private var outcome: Result<Task.Output, any Error>?
    private var isReady = false
    /// Why the parent killed the child (a bad frame), for ``join(timeout:)``.
    private var killReason: ProcessError?
    private let finished: Event

    /// Starts a child process running `task`.
    ///
    /// - Parameters:
    ///   - executable: the program to run; nil means this program (`/proc/self/exe`).
    ///   - environment: extra environment variables for the child.
    ///   - maximumFrameSize: the largest task or output frame either side accepts.
    ///   - frameTimeout: once the first byte of the child's answer has arrived, the longest
    ///     the rest may take between two reads; past it the child is killed and
    ///     ``join(timeout:)`` throws ``ProcessError/Code/malformedFrame``. A child still
    ///     computing has not begun its answer and is not bounded by this.
    /// - Throws: ``ProcessError/Code/spawnFailed`` (naming the executable and libuv's
    ///   reason), ``ProcessError/Code/frameTooLarge`` if the task does not fit in a frame,
    ///   the task's encoding error, ``WeaveError`` outside a coroutine or for a bad argument.
    public init(
        _ task: Task, executable: String? = nil, environment: [String: String] = [:],
        maximumFrameSize: Int = ProcessPool.defaultMaximumFrameSize,
        frameTimeout: Duration = ProcessPool.defaultFrameTimeout
    ) throws {
        let hub = try AnyCoroutine.requireCurrent("ChildProcess.init").hub
        guard maximumFrameSize >= 64, maximumFrameSize <= Int(UInt32.max) else {
            throw WeaveError(.invalidArgument, "maximumFrameSize \(maximumFrameSize) is outside 64...\(UInt32.max)")
        }
        guard frameTimeout > .zero else {
            throw WeaveError(.invalidArgument, "frameTimeout must be positive, not \(frameTimeout)")
        }
        if getenv(WorkerEnvironment.mode) != nil {
            throw WeaveError(.invalidArgument, "this process was started as a Weave worker but did not call ProcessWorker.main(tasks:) first")
        }
        let executable = executable ?? ProcessPool.currentExecutable()
        self.executable = executable

        // Encoding the task is where pipe ends and shared handles pick their descriptors.
        let handoff = ChildHandoff()
        var frame: [UInt8] = [WorkerProtocol.run]
        WorkerProtocol.appendVarint(1, to: &frame)
        WorkerProtocol.appendString(Task.taskName, to: &frame)
        WorkerProtocol.appendVarint(1, to: &frame)
        do {
            try ChildHandoff.$current.withValue(handoff) {
                try BinaryEncoder().encode(task, appendingTo: &frame)
            }
        } catch {
            handoff.finish(startedPID: nil)
            throw error
        }
        guard frame.count <= maximumFrameSize else {
            handoff.finish(startedPID: nil)
            throw ProcessError(.frameTooLarge, "ChildProcess: task \(Task.taskName) encodes to \(frame.count) bytes, above the maximum of \(maximumFrameSize)")
        }

        var variables = ProcessPool.inheritedEnvironment().filter { !$0.hasPrefix("\(WorkerEnvironment.inheritedCount)=") }
        variables.append("\(WorkerEnvironment.mode)=child")
        variables.append("\(WorkerEnvironment.parentPID)=\(getpid())")
        variables.append("\(WorkerEnvironment.maximumFrameSize)=\(maximumFrameSize)")
        variables.append("\(WorkerEnvironment.inheritedCount)=\(handoff.descriptors.count)")
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) { variables.append("\(key)=\(value)") }

        let process: WorkerProcess
        do {
            process = try WorkerProcess(
                hub: hub, executable: executable, environment: variables, maximumFrameSize: maximumFrameSize,
                label: "child", inheritedDescriptors: handoff.descriptors)
        } catch {
            handoff.finish(startedPID: nil)
            throw error
        }
        handoff.finish(startedPID: process.pid)
        self.process = process
        self.pid = process.pid
        self.finished = Event(label: "ChildProcess \(process.pid) (\(Task.taskName))")

        process.channel.frameTimeout = frameTimeout
        process.channel.onFrame = { [weak self] frame in self?.received(frame) }
        process.channel.onEnd = { [weak self] error in
            // A read error means the child is dying: its exit status tells the story. A frame
            // too large is the parent's own reason to kill it.
            guard let self, let error = error as? ProcessError, self.outcome == nil else { return }
            self.killReason = error
            self.process.kill()
        }
        process.onExit = { [weak self] status, signal in self?.exited(status: status, signal: signal) }
        try process.channel.startReading()
        try process.channel.appendFrame { $0.append(contentsOf: frame[...]) }
        do {
            try process.channel.flush()
        } catch {
            // The child died at once: its exit callback reports why.
        }
    }

    deinit {
        // The child finishes its task and exits at the end of its input.
        if exitStatus == nil { process.channel.close() }
    }

    /// Whether the child is still running.
    public var isRunning: Bool { exitStatus == nil }

    /// Parks until the child has exited, then returns its task's output.
    ///
    /// - Throws: ``ProcessError`` with ``ProcessError/Code/remoteError`` when the task threw
    ///   (``ProcessError/remote`` holds the error: its type name, its description, and the
    ///   error itself when its type is `Codable`), ``ProcessError/Code/workerDied``
    ///   when the child died first (``ProcessError/signal`` or ``ProcessError/exitStatus``
    ///   say how), ``ProcessError/Code/malformedFrame`` or ``ProcessError/Code/frameTooLarge``
    ///   for a bad answer, ``ProcessError/Code/spawnFailed`` when the program never started
    ///   serving; ``TimeoutError`` after `timeout` (the child keeps running);
    ///   `CancellationError`.
    public func join(timeout: Duration? = nil) throws -> Task.Output {
        try finished.wait(timeout: timeout)
        guard let outcome else {
            throw ProcessError(.workerDied, "child \(pid) ended without an outcome")
        }
        return try outcome.get()
    }

    /// Asks the child to stop with SIGTERM (it dies: workers do not handle it).
    public func terminate() { process.kill(SIGTERM) }

    /// Kills the child with SIGKILL.
    public func kill() { process.kill(SIGKILL) }

    // MARK: Callbacks (hub thread, never park)

    private func received(_ frame: UnsafeRawBufferPointer) {
        do {
            var cursor = WorkerProtocol.Cursor(frame)
            let kind = try cursor.byte()
            switch kind {
            case WorkerProtocol.ready:
                isReady = true
            case WorkerProtocol.succeeded, WorkerProtocol.failed:
                guard try cursor.varint() == 1, outcome == nil else {
                    throw ProcessError(.malformedFrame, "child \(pid) answered a task it was not given")
                }
                if kind == WorkerProtocol.succeeded {
                    do {
                        outcome = .success(try BinaryDecoder().decode(Task.Output.self, from: cursor.rest))
                    } catch {
                        outcome = .failure(ProcessError(.malformedFrame, "child \(pid): output of \(Task.taskName) does not decode: \(error)"))
                    }
                } else {
                    outcome = .failure(try remoteFailure(&cursor))
                }
                // The child exits at the end of its input; join waits for that exit.
                process.channel.close()
            default:
                throw ProcessError(.malformedFrame, "child \(pid) sent an unknown message kind \(kind)")
            }
        } catch {
            killReason = (error as? ProcessError) ?? ProcessError(.malformedFrame, "child \(pid) sent a malformed frame: \(error)")
            process.channel.end(nil)
            process.kill()
        }
    }

    private func remoteFailure(_ cursor: inout WorkerProtocol.Cursor) throws -> ProcessError {
        let failure = try WorkerProtocol.Failure.read(&cursor)
        switch failure.kind {
        case .unregisteredTask: return ProcessError(.unregisteredTask, failure.message)
        case .malformedFrame: return ProcessError(.malformedFrame, "\(Task.taskName) in child \(pid): \(failure.message)")
        case .frameTooLarge: return ProcessError(.frameTooLarge, "\(Task.taskName) in child \(pid): \(failure.message)")
        case .thrown:
            return ProcessError(.remoteError, "\(Task.taskName) threw in child \(pid): \(failure.type): \(failure.message)", remote: failure.remote)
        }
    }

    private func exited(status: Int64, signal: Int32) {
        let exit: TerminationStatus = signal != 0 ? .signaled(signal) : .exited(Int32(truncatingIfNeeded: status))
        // The exit can be seen before the child's last writes are read: read them first,
        // so an answer sent just before the end is not reported as a death.
        process.channel.drainAvailable()
        exitStatus = exit
        process.channel.close()
        if outcome == nil {
            if let killReason {
                outcome = .failure(killReason)
            } else if !isReady && signal == 0 {
                outcome = .failure(ProcessError(
                    .spawnFailed, "child \(pid) \(exit) before it started serving; does \(executable) call ProcessWorker.main(tasks:) first?",
                    exitStatus: signal == 0 ? Int32(truncatingIfNeeded: status) : nil, signal: signal == 0 ? nil : signal))
            } else {
                outcome = .failure(ProcessError(
                    .workerDied, "child \(pid) \(exit) while running \(Task.taskName)",
                    exitStatus: signal == 0 ? Int32(truncatingIfNeeded: status) : nil, signal: signal == 0 ? nil : signal))
            }
        }
        finished.set()
    }
}
