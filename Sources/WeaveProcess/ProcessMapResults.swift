import WeaveCore

/// The lazy results of ``ProcessPool/imap(_:chunkSize:timeout:maxInFlight:)`` and
/// ``ProcessPool/imapUnordered(_:chunkSize:timeout:maxInFlight:)``: iterate it in the
/// coroutine that made it, like every stream of results in Weave: ``next(timeout:)``
/// returns the next output and throws a task's error, and a `for` loop gets each output or
/// its error as a `Result`, so no error is ever lost:
///
/// ```swift
/// for result in try pool.imap(tasks) {
///     switch result {
///     case .success(let output): use(output)
///     case .failure(let error): log(error)
///     }
/// }
/// ```
///
/// `imap` yields strictly in input order: a failure is yielded at its own index, after
/// the outputs of every earlier task (however late they finish), and the tasks after it
/// still run and are yielded too (gevent's and `multiprocessing`'s `imap`). That includes
/// failures to submit (the pool was closed or broke mid-way): yielded at the index where
/// submission stopped, after which the iteration ends. `imapUnordered` yields in
/// completion order, failures included.
///
/// Input is read only as results are consumed: at most `maxInFlight` chunks are out at a
/// time, so an endless input with a `prefix` stays bounded. Stopping early (leaving the
/// loop, or dropping the iteration) abandons what is still out: queued chunks are dropped,
/// running ones (and each worker's next) have their workers killed and replaced (the
/// only way to stop them), and those queued further back on a worker run, ignored.
public final class ProcessMapResults<Task: ProcessTask>: Sequence, IteratorProtocol, PoolTaskSink {
    private unowned let pool: ProcessPool
    /// The input: an array is cut into slices, a chunk each (no copy, no call a task);
    /// any other sequence is read one task at a time.
    @exclusivity(unchecked) private var array: [Task]
    @exclusivity(unchecked) private var arrayIndex = 0
    @exclusivity(unchecked) private var tasks: AnyIterator<Task>?
    /// Whether the input is `array` (else `tasks`): a flag, not a test of the optional,
    /// which in this unspecialized code would look up `Optional`'s metadata.
    private let fromArray: Bool
    private let ordered: Bool
    private let chunkSize: Int
    private let timeout: Duration?
    private let maxInFlight: Int
    private let coroutine: AnyCoroutine
    /// Chunks out, in submission order.
    @exclusivity(unchecked) private var outstanding: [PoolTask] = []
    @exclusivity(unchecked) private var outstandingHead = 0
    /// Finished chunks not yet consumed (unordered mode), in completion order.
    @exclusivity(unchecked) private var finished: [PoolTask] = []
    /// Outputs of the current chunk not yet yielded. Unchecked: touched only by `next()`
    /// in the iterating coroutine, never across a park; a check per output would cost
    /// more than the output.
    @exclusivity(unchecked) private var buffered: [Task.Output] = []
    /// Set instead of `buffered` when the chunk failed: yielded `bufferedCount` times.
    @exclusivity(unchecked) private var bufferedFailure: (any Error)?
    @exclusivity(unchecked) private var bufferedCount = 0
    @exclusivity(unchecked) private var bufferedHead = 0
    @exclusivity(unchecked) private var inputDone = false
    @exclusivity(unchecked) private var spareChunk: [Task] = []
    @exclusivity(unchecked) private var waiting = false

    init<Tasks: Sequence>(pool: ProcessPool, tasks: Tasks, ordered: Bool, chunkSize: Int, timeout: Duration?, maxInFlight: Int?) throws
    where Tasks.Element == Task {
        guard chunkSize >= 1 else { throw WeaveError(.invalidArgument, "chunkSize must be at least 1, not \(chunkSize)") }
        if let maxInFlight, maxInFlight < 1 { throw WeaveError(.invalidArgument, "maxInFlight must be at least 1, not \(maxInFlight)") }
        self.coroutine = try AnyCoroutine.requireCurrent("ProcessPool.imap")
        self.pool = pool
        if let array = tasks as? [Task] {
            self.array = array
            self.fromArray = true
        } else {
            self.fromArray = false
            self.array = []
            self.tasks = AnyIterator(tasks.makeIterator())
        }
        self.ordered = ordered
        self.chunkSize = chunkSize
        self.timeout = timeout
        // Enough to keep every worker's pipeline full, no more: about two windows of
        // single tasks a worker (a window is at most 256), or 4,096 tasks a worker in
        // chunks (a chunk is cheap to hold, and a deep queue hides the round trip).
        self.maxInFlight = maxInFlight ?? Swift.max(4, pool.configuration.workers * Swift.min(512, 4096 / chunkSize))
    }

    deinit {
        let error = CancellationError()
        for task in outstanding[outstandingHead...] where task.outcome == nil { pool.abandon(task, because: error) }
    }

    func taskFinished(_ task: PoolTask) {
        if !ordered { finished.append(task) }
        if waiting {
            waiting = false
            coroutine.hub.makeReady(coroutine)
        }
    }

    /// The next output, waiting for it; nil when every task has been answered.
    ///
    /// In input order for `imap`, completion order for `imapUnordered`. Parks while no
    /// result is ready.
    ///
    /// - Throws: A task's error at its place (its index for `imap`); the iteration goes
    ///   on, and the next call returns the task after it (`multiprocessing`'s `imap`).
    ///   ``TimeoutError`` once `timeout` passes: nothing is abandoned, and a later call
    ///   picks up where this one stopped. `CancellationError` if the caller is cancelled,
    ///   or the ``TimeoutError`` of an enclosing `withTimeout` scope: what is still out is
    ///   abandoned and the iteration ends.
    public func next(timeout: Duration? = nil) throws -> Task.Output? {
        try nextResult(deadline: timeout.map { ContinuousClock.now + $0 })?.get()
    }

    /// The next output or its error, for a `for` loop; nil when every task has been
    /// answered. An interruption of the iterating coroutine (cancellation, an expired
    /// timeout scope) is the last element, as a failure: the loop never loses an error.
    public func next() -> Result<Task.Output, any Error>? {
        // Without a deadline, nextResult throws nothing.
        do { return try nextResult(deadline: nil) } catch { return .failure(error) }
    }

    private func nextResult(deadline: ContinuousClock.Instant?) throws(TimeoutError) -> Result<Task.Output, any Error>? {
        while true {
            if bufferedHead < bufferedCount {
                defer { bufferedHead += 1 }
                if let bufferedFailure { return .failure(bufferedFailure) }
                return .success(buffered[bufferedHead])
            }
            refill()
            let chunk: PoolTask
            do {
                guard let next = try nextFinishedChunk(deadline: deadline) else { return nil }
                chunk = next
            } catch let error as TimeoutError where deadline != nil && error.scope == nil {
                // The caller's own deadline: nothing is abandoned, a later call goes on.
                throw error
            } catch {
                // Cancelled (or a timeout scope expired) while waiting: that error, as is.
                inputDone = true
                abandonAll(error)
                return .failure(error)
            }
            // The chunk's own array, yielded by index: no append (nor `Result`) an output.
            bufferedHead = 0
            bufferedCount = chunk.count
            do {
                buffered = try chunk.decodeOutputs(Task.Output.self, using: pool.coders)
                bufferedFailure = nil
            } catch {
                buffered = []
                bufferedFailure = error
            }
        }
    }

    /// `map`'s next finished chunk in input order (submitting more first), or nil when none is
    /// left. An error that ends the wait (cancellation, an expired timeout scope) abandons
    /// what is still out before it is thrown.
    private func nextChunkForMap() throws -> PoolTask? {
        refill()
        do {
            return try nextFinishedChunk(deadline: nil)
        } catch {
            inputDone = true
            abandonAll(error)
            throw error
        }
    }

    /// For ``ProcessPool/map(_:chunkSize:timeout:)``: appends the outputs of the next chunk
    /// in input order to `outputs`, with no `Result` per output; false when none is left.
    /// Throws the chunk's failure, or the error that ended the wait (cancellation, an
    /// expired timeout scope), after abandoning what is still out.
    func appendNextChunk(to outputs: inout [Task.Output]) throws -> Bool {
        precondition(ordered && bufferedHead == bufferedCount, "appendNextChunk is map's alone")
        guard let chunk = try nextChunkForMap() else { return false }
        // One append a chunk: this code is not specialized, and each append looks up
        // `Array<Output>`'s metadata.
        outputs.append(contentsOf: try chunk.decodeOutputs(Task.Output.self, using: pool.coders))
        return true
    }

    /// How many outputs the iteration yields when that is known up front (the input is an
    /// array), so that ``ProcessPool/map(_:chunkSize:timeout:)`` can make its result at once.
    var knownCount: Int? { fromArray ? array.count : nil }

    /// For ``ProcessPool/map(_:chunkSize:timeout:)`` over an array: decodes the outputs of
    /// the next chunk in input order straight into `outputs` (room for ``knownCount``
    /// values, the first `initialized` of them in place), with no array of the chunk's own
    /// and no `Result` per output; false when none is left. Throws as
    /// ``appendNextChunk(to:)`` does; `initialized` counts what is in place even then.
    func decodeNextChunk(into outputs: UnsafeMutableBufferPointer<Task.Output>, initialized: inout Int) throws -> Bool {
        precondition(ordered && bufferedHead == bufferedCount, "decodeNextChunk is map's alone")
        guard let chunk = try nextChunkForMap() else { return false }
        if case .failure(let error) = chunk.outcome.unsafelyUnwrapped { throw error }
        precondition(chunk.count <= outputs.count - initialized, "more outputs than tasks")
        var decoded = 0
        defer { initialized += decoded }
        try chunk.decodeOutputs(Task.Output.self, into: outputs.baseAddress.unsafelyUnwrapped + initialized, initialized: &decoded, using: pool.coders)
        return true
    }

    /// Submits chunks while there is input and room. A chunk that cannot be submitted
    /// takes its place in line as a failure, and ends the input.
    private func refill() {
        // Refill in batches, once half the window is free: one write carries many tasks,
        // instead of one write per consumed result.
        guard outstanding.count - outstandingHead <= maxInFlight / 2 else { return }
        var submitted = false
        while !inputDone && outstanding.count - outstandingHead < maxInFlight {
            if fromArray {
                // A slice of the array, as a buffer: no `ArraySlice<Task>` (whose metadata
                // this unspecialized code would look up a chunk).
                let start = arrayIndex
                let end = start + Swift.min(chunkSize, array.count - start)
                arrayIndex = end
                if end == array.count { inputDone = true }
                if end == start { break }
                submitted = array.withUnsafeBufferPointer {
                    submitChunk(UnsafeBufferPointer(start: $0.baseAddress.unsafelyUnwrapped + start, count: end - start))
                } || submitted
            } else {
                guard let wasSubmitted = submitFromIterator() else { break }
                submitted = wasSubmitted || submitted
            }
        }
        if submitted {
            pool.dispatch()
            try? pool.flushWorkers()
        }
    }

    /// Reads the next chunk from the input iterator and submits it (see ``submitChunk(_:)``);
    /// nil when the input had no task left. Apart from ``refill()``, whose array path would
    /// otherwise look up `Optional`'s metadata a chunk for this path's variables.
    @inline(never) private func submitFromIterator() -> Bool? {
        // One buffer for every chunk: submit encodes the tasks at once and keeps nothing.
        var chunk = spareChunk
        spareChunk = []
        defer { spareChunk = chunk }
        chunk.removeAll(keepingCapacity: true)
        while chunk.count < chunkSize, let task = tasks.unsafelyUnwrapped.next() { chunk.append(task) }
        if chunk.count < chunkSize { inputDone = true }
        if chunk.isEmpty { return nil }
        return chunk.withUnsafeBufferPointer { submitChunk($0) }
    }

    /// Submits one chunk and puts it in line; one that cannot be submitted takes its place
    /// as a failure, and ends the input. Returns whether it was submitted.
    private func submitChunk(_ chunk: UnsafeBufferPointer<Task>) -> Bool {
        do {
            outstanding.append(try pool.submit(chunk, timeout: timeout, sink: self, dispatching: false))
            // A worker with nothing to do gets this chunk now, not once the whole window
            // is encoded: the workers start while the rest is encoded.
            if pool.hasIdleWorker {
                pool.dispatch()
                try? pool.flushWorkers()
            }
            return true
        } catch {
            inputDone = true
            let failed = PoolTask(id: 0, name: Task.taskName, count: 1, arguments: [], timeout: nil, sink: nil)
            failed.outcome = .failure(error)
            outstanding.append(failed)
            if !ordered { finished.append(failed) }
            return false
        }
    }

    /// The next chunk to yield, parking until it is finished; nil when none is left.
    private func nextFinishedChunk(deadline: ContinuousClock.Instant?) throws -> PoolTask? {
        while true {
            if ordered {
                guard outstandingHead < outstanding.count else { return nil }
                let head = outstanding[outstandingHead]
                if head.outcome != nil {
                    outstandingHead += 1
                    compact()
                    return head
                }
            } else if !finished.isEmpty {
                let task = finished.removeFirst()
                if let index = outstanding[outstandingHead...].firstIndex(where: { $0 === task }) {
                    outstanding.swapAt(index, outstandingHead)
                    outstandingHead += 1
                    compact()
                }
                return task
            } else if outstandingHead == outstanding.count {
                return nil
            }
            waiting = true
            defer { waiting = false }
            if ordered {
                try coroutine.park(.primitive(outstanding[outstandingHead], "imap result"), timeout: deadline.map { $0 - .now })
            } else {
                try coroutine.park(.primitive(pool, "imapUnordered next"), timeout: deadline.map { $0 - .now })
            }
        }
    }

    private func compact() {
        if outstandingHead > 256 && outstandingHead * 2 > outstanding.count {
            outstanding.removeFirst(outstandingHead)
            outstandingHead = 0
        }
    }

    private func abandonAll(_ error: any Error) {
        for task in outstanding[outstandingHead...] where task.outcome == nil { pool.abandon(task, because: error) }
        outstanding.removeAll()
        outstandingHead = 0
    }
}
