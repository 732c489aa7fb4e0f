import Glibc
import WeaveCore

/// The pool's machinery: starting and replacing workers, sending tasks, reading results,
/// and handling deaths, timeouts and cancellation. Everything here runs on the hub's
/// thread; the frame and exit handlers run in libuv callbacks and never park.
extension ProcessPool {
    func startWorker() throws {
        let process = try WorkerProcess(
            hub: hub, executable: executable, environment: environment,
            maximumFrameSize: configuration.maximumFrameSize, label: "pool worker")
        let worker = PoolWorker(process: process)
        process.channel.frameTimeout = configuration.frameTimeout
        process.channel.onFrame = { [unowned self, unowned worker] frame in
            self.received(frame, from: worker)
        }
        process.channel.onBatchDelivered = { [unowned self] in
            // Replies to a whole read's worth of results leave in one write per worker.
            do { try self.flushWorkers() } catch {}
        }
        process.channel.onEnd = { [unowned self, unowned worker] error in
            // The exit callback settles the tasks. An oversized or stalled frame is the
            // pool's own reason to kill the worker; anything else (a read error, the end
            // of the stream) usually means it is dying, and its exit status tells how.
            guard !worker.process.hasExited, worker.killReason == nil else { return }
            if let error = error as? ProcessError {
                self.kill(worker, because: error)
            } else {
                self.channelBroke(worker, error.map { "\($0)" } ?? "end of stream while the process lived")
            }
        }
        process.onExit = { [unowned self, unowned worker] status, signal in
            self.workerExited(worker, status: status, signal: signal)
        }
        try process.channel.startReading()
        workers.append(worker)
        startedWorkerCount += 1
        if let initializer {
            worker.isInitializing = true
            try process.channel.appendFrame { frame in
                frame.append(WorkerProtocol.initialize)
                WorkerProtocol.appendString(initializer.name, to: &frame)
                WorkerProtocol.appendVarint(1, to: &frame)
                frame.append(contentsOf: initializer.arguments)
            }
            try process.channel.flush()
        }
        updateReference(worker)
    }

    // MARK: Submitting

    /// Queues the tasks as one message (a chunk) and, unless `dispatching` is false (the
    /// caller submits a batch and dispatches once), sends what the workers have room for.
    /// The caller flushes (``flushWorkers()``) once it has submitted what it has.
    func submit<Task: ProcessTask>(_ tasks: ArraySlice<Task>, timeout: Duration?, sink: (any PoolTaskSink)?, dispatching: Bool = true) throws -> PoolTask {
        try tasks.withUnsafeBufferPointer { try submit($0, timeout: timeout, sink: sink, dispatching: dispatching) }
    }

    /// ``submit(_:timeout:sink:dispatching:)`` of the tasks in `tasks` (read during the call):
    /// the form ``ProcessMapResults`` uses, as a buffer needs no runtime lookup of a
    /// collection type's metadata in this unspecialized code (a slice costs two a chunk).
    func submit<Task: ProcessTask>(_ tasks: UnsafeBufferPointer<Task>, timeout: Duration?, sink: (any PoolTaskSink)?, dispatching: Bool = true) throws -> PoolTask {
        if let brokenError { throw brokenError }
        guard !isClosed else { throw ProcessError(.closed, "ProcessPool is closed: no new tasks") }
        if let timeout, timeout <= .zero { throw WeaveError(.invalidArgument, "task timeout must be positive, not \(timeout)") }
        let (name, isBitwise) = taskInfo(Task.self)
        var arguments: [UInt8] = []
        if isBitwise {
            // A BitwiseProcessTask's bytes are its value: the chunk is one copy.
            arguments.append(contentsOf: UnsafeRawBufferPointer(tasks))
        } else {
            try coders.appending(to: &arguments) { try $0.encodeValues(tasks) }
        }
        nextTaskID &+= 1
        let item = PoolTask(id: nextTaskID, name: name, count: tasks.count, arguments: arguments, isBitwise: isBitwise, timeout: timeout, sink: sink)
        pending.append(item)
        if dispatching { dispatch() }
        return item
    }

    /// `Task.taskName` and whether it is a ``BitwiseProcessTask``, worked out once per type
    /// (the default name reflects the type, and the conformance is a runtime lookup: a
    /// chunk of one would pay both per task).
    private func taskInfo<Task: ProcessTask>(_ type: Task.Type) -> (name: String, isBitwise: Bool) {
        let key = ObjectIdentifier(type)
        // A map submits chunk after chunk of one type: the last one found, without hashing.
        if let last = lastTaskInfo, last.type == key { return last.info }
        let info: (name: String, isBitwise: Bool)
        if let known = taskInfos[key] {
            info = known
        } else {
            info = (name: Task.taskName, isBitwise: Task.self is any BitwiseProcessTask.Type)
            taskInfos[key] = info
        }
        lastTaskInfo = (key, info)
        return info
    }

    /// Whether a worker is serving with nothing in flight (and so waits for work).
    var hasIdleWorker: Bool {
        for worker in workers where worker.isReady && !worker.isRetiring && worker.inFlight.isEmpty { return true }
        return false
    }

    /// Moves queued tasks to workers with room, least loaded first.
    ///
    /// No worker takes more than its fair share of the work in hand, counting workers
    /// still starting: otherwise the first worker to be ready could swallow a whole batch
    /// into its pipeline while the others sit idle once they come up.
    func dispatch() {
        guard !pending.isEmpty else { return }
        var serving = 0
        var inFlight = 0
        for worker in workers where !worker.isRetiring {
            serving += 1
            inFlight += worker.inFlight.count
        }
        let fairShare = max(1, (pending.count + inFlight + serving - 1) / max(1, serving))
        while !pending.isEmpty {
            var best: PoolWorker?
            for worker in workers where worker.hasRoom && worker.isReady && worker.inFlight.count < fairShare {
                if best == nil || worker.inFlight.count < best!.inFlight.count { best = worker }
            }
            guard let worker = best, let task = pending.popFirst() else { return }
            send(task, to: worker)
        }
    }

    private func send(_ task: PoolTask, to worker: PoolWorker) {
        do {
            try worker.process.channel.appendFrame { frame in
                frame.append(task.isBitwise ? WorkerProtocol.runBitwise : WorkerProtocol.run)
                WorkerProtocol.appendVarint(task.id, to: &frame)
                WorkerProtocol.appendString(task.name, to: &frame)
                WorkerProtocol.appendVarint(UInt64(task.count), to: &frame)
                frame.append(contentsOf: task.arguments)
            }
        } catch {
            finish(task, .failure(error))  // too large to send: this task fails, nothing else
            return
        }
        task.worker = worker
        worker.inFlight.append(task)
        worker.sentCount += 1
        if let limit = configuration.maxTasksPerWorker, worker.sentCount >= limit { worker.isRetiring = true }
        updateReference(worker)
    }

    /// Hands every worker's buffered frames to the kernel: one system call a worker for
    /// however many tasks were submitted since the last flush.
    func flushWorkers() throws {
        for worker in workers where worker.process.channel.unflushedCount > 0 {
            do {
                try worker.process.channel.flush()
            } catch {
                // A broken pipe means the worker is dying: its exit settles its tasks, and
                // its exit status, not this write's EPIPE, is what its running task reports.
                channelBroke(worker, "\(error)")
            }
        }
    }

    /// The worker said it started `task`: its timeout counts from now.
    private func startedRunning(_ task: PoolTask, on worker: PoolWorker) {
        worker.running = task
        guard let timeout = task.timeout else { return }
        task.timer = hub.addTimer(deadline: Hub.deadline(after: timeout), .callback { [weak self, weak task] in
            guard let self, let task else { return }
            self.timedOut(task, after: timeout)
        })
    }

    private func timedOut(_ task: PoolTask, after timeout: Duration) {
        task.timer = nil
        guard let worker = task.worker, worker.running === task else { return }
        kill(worker, because: TimeoutError(operation: "task \(task.id) (\(task.name)) on worker \(worker.process.pid) (killed)", timeout: timeout))
    }

    /// The pool's own decision to kill a worker: `error` is what its running task reports.
    private func kill(_ worker: PoolWorker, because error: any Error) {
        if worker.killReason == nil { worker.killReason = (worker.running, error) }
        worker.isRetiring = true
        worker.process.kill()
    }

    /// The worker's channel failed while the process lives: no more tasks for it, and
    /// a moment to exit on its own (a dying process's status is the true story) before
    /// it is killed (a live one that cannot talk can never answer).
    func channelBroke(_ worker: PoolWorker, _ what: String) {
        guard !worker.process.hasExited else { return }
        if worker.channelFailure == nil { worker.channelFailure = what }
        worker.isRetiring = true
        guard worker.graceTimer == nil else { return }
        worker.graceTimer = hub.addTimer(deadline: Hub.deadline(after: .seconds(1)), .callback { [weak worker] in
            guard let worker else { return }
            worker.graceTimer = nil
            worker.process.kill()
        })
    }

    // MARK: Results

    private func received(_ frame: UnsafeRawBufferPointer, from worker: PoolWorker) {
        do {
            var cursor = WorkerProtocol.Cursor(frame)
            let kind = try cursor.byte()
            switch kind {
            case WorkerProtocol.ready:
                worker.isReady = true
                if !worker.isInitializing { consecutiveStartFailures = 0 }
                dispatch()
                try flushWorkers()
            case WorkerProtocol.started:
                let id = try cursor.varint()
                guard worker.running == nil, let task = worker.inFlight.first, task.id == id else {
                    throw ProcessError(.malformedFrame, "worker \(worker.process.pid) started task \(id) out of turn")
                }
                startedRunning(task, on: worker)
            case WorkerProtocol.succeeded, WorkerProtocol.failed:
                let id = try cursor.varint()
                if id == 0 {
                    try initializerAnswered(kind, cursor: &cursor, worker: worker)
                    return
                }
                guard let task = worker.running, task.id == id else {
                    throw ProcessError(.malformedFrame, "worker \(worker.process.pid) answered task \(id), which it was not running")
                }
                let outcome: Result<[UInt8], any Error>
                if kind == WorkerProtocol.succeeded {
                    outcome = .success([UInt8](cursor.rest))
                } else {
                    outcome = .failure(try ProcessPool.remoteFailure(&cursor, task: task, pid: worker.process.pid))
                }
                completed(task, on: worker, outcome)
            default:
                throw ProcessError(.malformedFrame, "worker \(worker.process.pid) sent an unknown message kind \(kind)")
            }
        } catch {
            // Garbage on the channel: the worker cannot be trusted; its exit settles the rest.
            kill(worker, because: (error as? ProcessError) ?? ProcessError(.malformedFrame, "worker \(worker.process.pid) sent a malformed frame: \(error)"))
            worker.process.channel.end(nil)
        }
    }

    private func completed(_ task: PoolTask, on worker: PoolWorker, _ outcome: Result<[UInt8], any Error>) {
        _ = worker.inFlight.popFirst()
        worker.running = nil
        worker.recordCompletion(at: .now, nextInHand: !worker.inFlight.isEmpty)
        if let timer = task.timer {
            hub.removeTimer(timer)
            task.timer = nil
        }
        task.worker = nil
        finish(task, outcome)
        if worker.isRetiring && worker.inFlight.isEmpty && worker.killReason == nil {
            worker.process.channel.close()  // it exits at the end of its input
            updateReference(worker)
        }
        // Sent with the next flush: once per read (onBatchDelivered), not once a result.
        dispatch()
        if isClosed { retireIdleWorkers() }
        updateReference(worker)
    }

    private func initializerAnswered(_ kind: UInt8, cursor: inout WorkerProtocol.Cursor, worker: PoolWorker) throws {
        worker.isInitializing = false
        guard kind == WorkerProtocol.failed else {
            consecutiveStartFailures = 0
            return
        }
        let pid = worker.process.pid
        let failure = try ProcessPool.remoteFailure(&cursor, task: nil, pid: pid)
        breakPool(ProcessError(.remoteError, "the pool's initializer failed in worker \(pid): \(failure.message)", remote: failure.remote))
    }

    static func remoteFailure(_ cursor: inout WorkerProtocol.Cursor, task: PoolTask?, pid: Int32) throws -> ProcessError {
        let failure = try WorkerProtocol.Failure.read(&cursor)
        let what = task.map { "task \($0.id) (\($0.name))" } ?? "initializer"
        switch failure.kind {
        case .unregisteredTask: return ProcessError(.unregisteredTask, failure.message)
        case .malformedFrame: return ProcessError(.malformedFrame, "\(what) in worker \(pid): \(failure.message)")
        case .frameTooLarge: return ProcessError(.frameTooLarge, "\(what) in worker \(pid): \(failure.message)")
        case .thrown:
            return ProcessError(.remoteError, "\(what) threw in worker \(pid): \(failure.type): \(failure.message)", remote: failure.remote)
        }
    }

    /// Delivers a task's outcome to its sink (once).
    func finish(_ task: PoolTask, _ outcome: Result<[UInt8], any Error>) {
        guard task.outcome == nil else { return }
        task.outcome = outcome
        if let timer = task.timer {
            hub.removeTimer(timer)
            task.timer = nil
        }
        let sink = task.sink
        task.sink = nil
        sink?.taskFinished(task)
        if isClosed && outcomeSettledAll { joiners.signalAll() }
    }

    private var outcomeSettledAll: Bool { pending.isEmpty && workers.allSatisfy { $0.inFlight.isEmpty } }

    // MARK: Deaths

    private func workerExited(_ worker: PoolWorker, status: Int64, signal: Int32) {
        worker.isRetiring = true
        if let timer = worker.graceTimer {
            hub.removeTimer(timer)
            worker.graceTimer = nil
        }
        // Its last words (answers, the start of the task that killed it) can still be in
        // the socket: the exit is often seen before them. Read them before judging.
        worker.process.channel.drainAvailable()
        worker.detach()
        worker.process.channel.close()
        workers.removeAll { $0 === worker }
        let tasks = worker.inFlight.drain()
        let running = worker.running
        worker.running = nil
        let pid = worker.process.pid
        let how = signal != 0 ? "died from signal \(ProcessPool.signalName(signal))" : "exited with status \(status)"
        // Only the task it said it started fails; the rest never started: they go back to
        // the front of the queue, in order, for another worker (no task runs twice).
        var requeued: [PoolTask] = []
        for task in tasks {
            task.worker = nil
            if let timer = task.timer { hub.removeTimer(timer); task.timer = nil }
            if task !== running && task.sink != nil && task.outcome == nil { requeued.append(task) }
        }
        if let brokenError {
            // No worker will ever take them (a broken pool starts none): they fail now,
            // as every queued task did when the pool broke.
            for task in requeued { finish(task, .failure(brokenError)) }
        } else {
            pending.prepend(contentsOf: requeued)
        }
        if let running {
            let error: any Error
            if let reason = worker.killReason, reason.task === running {
                error = reason.error
            } else {
                let chunk = running.count > 1 ? ", a chunk of \(running.count)" : ""
                let channel = worker.channelFailure.map { " (its channel had failed first: \($0))" } ?? ""
                error = ProcessError(
                    .workerDied, "worker \(pid) \(how) while running task \(running.id) (\(running.name)\(chunk))\(channel)",
                    exitStatus: signal == 0 ? Int32(truncatingIfNeeded: status) : nil, signal: signal == 0 ? nil : signal)
            }
            finish(running, .failure(error))
        }
        if (!worker.isReady || worker.isInitializing) && worker.killReason == nil {
            consecutiveStartFailures += 1
            if consecutiveStartFailures >= 3 {
                let what = worker.isReady
                    ? "worker \(pid) \(how) while running the pool's initializer, three times in a row"
                    : "worker \(pid) \(how) before it started serving, three times in a row; does \(executable) call ProcessWorker.main(tasks:) first?"
                breakPool(ProcessError(
                    .spawnFailed, what,
                    exitStatus: signal == 0 ? Int32(truncatingIfNeeded: status) : nil, signal: signal == 0 ? nil : signal))
            }
        }
        if !isClosed && brokenError == nil {
            do {
                try startWorker()
            } catch let error as ProcessError {
                breakPool(error)
            } catch {
                breakPool(ProcessError(.spawnFailed, "cannot replace worker \(pid): \(error)"))
            }
        } else if isClosed && !pending.isEmpty && workers.isEmpty && brokenError == nil {
            // Closing, with requeued work and no worker left: one more worker finishes it.
            do { try startWorker() } catch { breakPool(ProcessError(.spawnFailed, "cannot replace worker \(pid): \(error)")) }
        }
        dispatch()
        do { try flushWorkers() } catch {}
        if isClosed { retireIdleWorkers() }
        joiners.signalAll()
    }

    /// Every queued task fails with `error`, and so will every later one.
    func breakPool(_ error: ProcessError) {
        guard brokenError == nil else { return }
        brokenError = error
        while let task = pending.popFirst() { finish(task, .failure(error)) }
        for worker in workers { worker.retire(killing: true) }
    }

    /// Closing: workers with nothing left to do exit (their input ends).
    func retireIdleWorkers() {
        guard pending.isEmpty else { return }
        for worker in workers where worker.inFlight.isEmpty {
            worker.isRetiring = true
            worker.process.channel.close()
            // Referenced again until it exits: `join` waits for that exit.
            updateReference(worker)
        }
    }

    /// Idle workers do not keep the loop alive: a program whose only remaining thing is an
    /// idle pool is finished (or deadlocked), not waiting.
    func updateReference(_ worker: PoolWorker) {
        let busy = !worker.inFlight.isEmpty || !worker.isReady || worker.isRetiring
        if busy != worker.isReferenced {
            worker.isReferenced = busy
            worker.process.setReferenced(busy)
        }
    }

    // MARK: Waiting

    /// Parks until `task` has finished. A caller that gives up (cancelled, timed out
    /// scope) leaves nothing behind: a queued task is dropped, a running one (or the next
    /// to run) has its worker killed, one queued further back on a worker runs there and
    /// its result is dropped.
    func wait(for task: PoolTask, waiter: PoolTaskWaiter) throws {
        while !waiter.isDone {
            do {
                try waiter.coroutine.park(.primitive(task, "result"))
            } catch {
                abandon(task, because: error)
                throw error
            }
        }
    }

    func abandon(_ task: PoolTask, because error: any Error) {
        guard task.outcome == nil else { return }
        task.sink = nil
        if pending.removeFirst(where: { $0 === task }) {
            task.outcome = .failure(error)
            return
        }
        // Running, or next to run with its start perhaps already on the way: stopping the
        // worker is the only way to stop the task.
        if let worker = task.worker, worker.running === task || (worker.running == nil && worker.inFlight.first === task) {
            kill(worker, because: error)
        }
    }

    static func signalName(_ signal: Int32) -> String {
        TerminationStatus.signalName(signal)
    }
}

/// The sink of ``ProcessPool/submit(_:timeout:onSuccess:onFailure:)``: its callback runs
/// in the pool's notifier coroutine, where user code may block.
final class PoolAsyncSink: PoolTaskSink {
    unowned let pool: ProcessPool
    let deliver: (PoolTask) -> Void

    init(pool: ProcessPool, deliver: @escaping (PoolTask) -> Void) {
        self.pool = pool
        self.deliver = deliver
    }

    func taskFinished(_ task: PoolTask) {
        task.sink = self  // kept until the notifier has run the callback
        pool.notify(task)
    }
}

extension ProcessPool {
    /// Queues a finished async task for its callbacks; a notifier coroutine runs them, and
    /// exits once none are left (so an idle pool holds no parked coroutine).
    func notify(_ task: PoolTask) {
        notifications.append(task)
        guard notifier == nil else { return }
        notifier = try? hub.spawn(name: "ProcessPool callbacks", stackSize: nil, spawnSite: SourceLocation(fileID: #fileID, line: #line)) {
            self.runNotifications()
        }
    }

    private func runNotifications() {
        defer { notifier = nil }
        while !notifications.isEmpty {
            let batch = notifications
            notifications.removeAll(keepingCapacity: true)
            for task in batch {
                let sink = task.sink as? PoolAsyncSink
                task.sink = nil
                sink?.deliver(task)
            }
        }
    }
}
