import CLibUV
import CWeaveProcess
import Glibc
import WeaveCore

/// The worker side of ``ProcessPool`` and ``ChildProcess``: the entry point that turns a
/// launch of this executable into a worker.
public enum ProcessWorker {
    /// Registers the task types this program can run in a worker process, and turns the
    /// process into a worker when it was started as one. Call it first thing in `main`.
    ///
    /// In a normal launch it records `tasks` and returns at once. In a process that a
    /// ``ProcessPool`` or ``ChildProcess`` started from this executable, it never returns:
    /// it serves tasks on its own hub and exits when its parent closes the channel (or
    /// dies: workers set `PR_SET_PDEATHSIG` to SIGKILL). Workers ignore SIGINT, so Ctrl-C
    /// in a terminal reaches the parent, which decides.
    ///
    /// A worker is started with no command-line arguments (the executable's path only), so
    /// call this before parsing them, and pass every task type the program submits in any
    /// of its modes.
    public static func main(tasks: [any ProcessTask.Type]) {
        TaskRegistry.register(tasks)
        guard let mode = getenv(WorkerEnvironment.mode) else { return }
        let name = String(cString: mode)
        // The channel and the inherited links are this process's alone: a program it runs
        // must not hold them (close-on-exec at once, before anything can exec).
        _ = fcntl(WorkerEnvironment.channelFD, F_SETFD, FD_CLOEXEC)
        ChildHandoff.recordInherited(getenv(WorkerEnvironment.inheritedCount).flatMap { Int(String(cString: $0)) } ?? 0)
        unsetenv(WorkerEnvironment.inheritedCount)
        // Not inherited by what the worker starts: a pool inside a task is a normal pool.
        unsetenv(WorkerEnvironment.mode)
        exit(WorkerMain.run(mode: name))
    }
}

/// The environment a parent sets for a worker it starts.
enum WorkerEnvironment {
    /// Present only in worker processes: `pool` for a pool's workers, `child` for a
    /// ``ChildProcess`` (which is served the same way, one task long).
    static let mode = "WEAVE_WORKER"
    /// How many descriptors a child inherited at fds 4, 5, ... (pipe ends, manager links).
    static let inheritedCount = "WEAVE_INHERITED_FDS"
    /// The parent's pid: a worker whose parent is already gone exits at once.
    static let parentPID = "WEAVE_PARENT_PID"
    /// The largest frame either side accepts.
    static let maximumFrameSize = "WEAVE_MAX_FRAME"
    /// The worker's end of its socketpair.
    static let channelFD: Int32 = 3
}

/// The worker side: read task frames, run each in turn, send the results back.
enum WorkerMain {
    static func run(mode: String) -> Int32 {
        // Die with the parent. The death signal fires when the parent *thread* that spawned
        // us exits, which is the pool's hub thread: the one that owns this worker.
        _ = weave_set_parent_death_signal(SIGKILL)
        if let expected = getenv(WorkerEnvironment.parentPID).flatMap({ Int32(String(cString: $0)) }), getppid() != expected {
            return 0  // the parent died before we could ask to die with it
        }
        signal(SIGINT, SIG_IGN)
        let maximumFrameSize = getenv(WorkerEnvironment.maximumFrameSize).flatMap { Int(String(cString: $0)) } ?? ProcessPool.defaultMaximumFrameSize
        // A worker's hub exists to run tasks, which are often CPU-bound by design: a task
        // holding the loop for long is no stall worth a warning on the parent's stderr.
        var configuration = Hub.Configuration()
        configuration.monitorsBlockedLoop = false
        do {
            try Hub.run(configuration: configuration) {
                // A pool's worker announces each task's start; a child runs one task and
                // its parent needs no such marks.
                let server = try WorkerServer(fd: WorkerEnvironment.channelFD, maximumFrameSize: maximumFrameSize, announcesStarts: mode == "pool")
                try server.serve()
            }
            return 0
        } catch let error as UVError where error.code == UV_EPIPE.rawValue || error.code == UV_ECONNRESET.rawValue {
            return 0  // the parent closed the channel (a retired or closing pool): a normal end
        } catch {
            // The worker's own last word: there is no parent-side logger in this process.
            var message = "weave worker \(getpid()): \(error)\n"
            message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            return 70  // EX_SOFTWARE
        }
    }
}

/// Serves one channel: frames arrive in the read callback and are queued in a byte log
/// (no allocation per frame); the worker's coroutine runs them in order.
///
/// Before a task's first line runs, the answers to the tasks before it and a `started`
/// frame for it are in the kernel (one write): if the task kills the process, the parent
/// reads them after the death and blames exactly this task (see ``WorkerProtocol``).
final class WorkerServer {
    let channel: FrameChannel
    private var inbox: [UInt8] = []
    private var result: [UInt8] = []
    /// Decodes tasks and encodes outputs, its containers kept from frame to frame.
    private let coders = BinaryCoders()
    private var waiting: AnyCoroutine?
    /// The name bytes of the last task frame and the type they resolved to: consecutive
    /// frames usually carry the same type, so neither a `String` nor the locked lookup.
    private var lastName: [UInt8] = []
    private var lastType: (any ProcessTask.Type)?
    /// Whether `lastType` is a ``BitwiseProcessTask`` (a conformance lookup, done once).
    private var lastTypeIsBitwise = false
    private var finished = false
    private var endError: (any Error)?
    private let announcesStarts: Bool

    init(fd: Int32, maximumFrameSize: Int, announcesStarts: Bool) throws {
        self.announcesStarts = announcesStarts
        let hub = try AnyCoroutine.requireCurrent("worker").hub
        channel = try FrameChannel.open(fd: fd, hub: hub, maximumFrameSize: maximumFrameSize, label: "worker channel")
        channel.onFrame = { [unowned self] frame in
            WorkerProtocol.appendVarint(UInt64(frame.count), to: &inbox)
            inbox.append(contentsOf: frame)
            wake()
        }
        channel.onEnd = { [unowned self] error in
            finished = true
            endError = error
            wake()
        }
    }

    private func wake() {
        if let waiting {
            self.waiting = nil
            waiting.hub.makeReady(waiting)
        }
    }

    func serve() throws {
        try channel.startReading()
        // Tell the parent we serve: a worker that dies before this never started properly.
        try channel.appendFrame { frame in
            frame.append(WorkerProtocol.ready)
            WorkerProtocol.appendVarint(UInt64(getpid()), to: &frame)
        }
        try channel.flush()
        let coroutine = try AnyCoroutine.requireCurrent("worker")
        var batch: [UInt8] = []
        while true {
            if inbox.isEmpty {
                if finished { break }
                waiting = coroutine
                try coroutine.park(.other("worker waiting for tasks"))
                continue
            }
            // A local batch: tasks may park while it is borrowed, and new frames keep
            // arriving in `inbox` meanwhile.
            swap(&inbox, &batch)
            try batch.withUnsafeBytes { try runBatch($0) }
            batch.removeAll(keepingCapacity: true)
        }
        try channel.flush()
        if let endError, !(endError is UVError) { throw endError }
    }

    private func runBatch(_ batch: UnsafeRawBufferPointer) throws {
        var cursor = WorkerProtocol.Cursor(batch)
        while cursor.position < batch.count {
            let length = Int(try cursor.varint())
            let frame = UnsafeRawBufferPointer(rebasing: batch[cursor.position..<(cursor.position + length)])
            cursor.position += length
            try handleFrame(frame)
        }
        // The last answer of the batch; the next task's start would carry it otherwise.
        try channel.flush()
    }

    private func handleFrame(_ frame: UnsafeRawBufferPointer) throws {
        var cursor = WorkerProtocol.Cursor(frame)
        var taskID: UInt64 = 0
        let name: UnsafeRawBufferPointer
        let bitwise: Bool
        do {
            let kind = try cursor.byte()
            bitwise = kind == WorkerProtocol.runBitwise
            if kind == WorkerProtocol.run || bitwise { taskID = try cursor.varint() }
            guard kind == WorkerProtocol.run || bitwise || kind == WorkerProtocol.initialize else {
                throw ProcessError(.malformedFrame, "worker: unknown message kind \(kind)")
            }
            name = try cursor.stringBytes()
        } catch {
            // The stream cannot be trusted after a bad header: report and stop.
            try channel.appendFrame { WorkerProtocol.appendFailure(taskID: 0, .init(.malformedFrame, type: "ProcessError", message: "\(error)"), to: &$0) }
            throw error
        }
        if announcesStarts && taskID != 0 {
            // Everything before this task, and its start, reach the parent before it runs.
            try channel.appendFrame { frame in
                frame.append(WorkerProtocol.started)
                WorkerProtocol.appendVarint(taskID, to: &frame)
            }
            try channel.flushAndWait()
        }
        // The reusable output buffer, held in a local while the task runs (it may park).
        var output: [UInt8] = []
        swap(&output, &result)
        defer {
            output.removeAll(keepingCapacity: true)
            swap(&output, &result)
        }
        do {
            if !name.elementsEqual(lastName) {
                lastName = [UInt8](name)
                lastType = TaskRegistry.lookup(String(decoding: name, as: UTF8.self))
                lastTypeIsBitwise = lastType.map { $0 is any BitwiseProcessTask.Type } ?? false
            }
            guard let type = lastType else {
                throw WorkerProtocol.Failure(
                    .unregisteredTask, type: "ProcessError",
                    message: "task '\(String(decoding: name, as: UTF8.self))' is not registered in worker \(getpid()); pass it to ProcessWorker.main(tasks:)")
            }
            let count = try cursor.varint()
            if bitwise {
                // Never copy bytes into a type that is not plain data, whatever the frame says.
                guard lastTypeIsBitwise else {
                    throw WorkerProtocol.Failure(
                        .malformedFrame, type: "ProcessError",
                        message: "task '\(String(decoding: name, as: UTF8.self))' arrived as bytes but is not a BitwiseProcessTask in worker \(getpid())")
                }
                try TaskRegistry.runBitwise(type as! any BitwiseProcessTask.Type, count: count, arguments: cursor.rest, into: &output)
            } else {
                try TaskRegistry.run(type, count: count, arguments: cursor.rest, into: &output, using: coders)
            }
            try channel.appendFrame { frame in
                frame.append(WorkerProtocol.succeeded)
                WorkerProtocol.appendVarint(taskID, to: &frame)
                frame.append(contentsOf: output)
            }
        } catch let error as ProcessError where error.code == .frameTooLarge {
            let failure = WorkerProtocol.Failure(.frameTooLarge, type: "ProcessError", message: "result of \(String(decoding: name, as: UTF8.self)): \(error.message)")
            try channel.appendFrame { WorkerProtocol.appendFailure(taskID: taskID, failure, to: &$0) }
        } catch let failure as WorkerProtocol.Failure {
            try channel.appendFrame { WorkerProtocol.appendFailure(taskID: taskID, failure, to: &$0) }
        } catch {
            let failure = WorkerProtocol.Failure(thrown: error, maximumFrameSize: channel.maximumFrameSize)
            try channel.appendFrame { WorkerProtocol.appendFailure(taskID: taskID, failure, to: &$0) }
        }
    }
}
