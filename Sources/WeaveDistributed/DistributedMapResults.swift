import WeaveCore
import WeaveProcess

/// The lazy results of ``DistributedPool/imap(_:chunkSize:timeout:maxInFlight:)`` and
/// ``DistributedPool/imapUnordered(_:chunkSize:timeout:maxInFlight:)``, as they come back
/// from the workers: iterate it in the coroutine that made it. ``next(timeout:)`` returns
/// the next output and throws a task's error; a `for` loop gets each output or its error as
/// a `Result`, so no error is lost:
///
/// ```swift
/// for result in try pool.imapUnordered(tasks, chunkSize: 20) {
///     switch result {
///     case .success(let output): use(output)
///     case .failure(let error): log(error)
///     }
/// }
/// ```
///
/// `imap` yields strictly in input order: a failure (a task that threw, a chunk that
/// timed out or was dead-lettered, a publish that failed) is yielded at each index of its
/// chunk, after every earlier output, and the later tasks are still yielded. A failure to
/// publish ends the input: it is yielded where publishing stopped, then the iteration
/// ends. `imapUnordered` yields in the order the results arrive, failures included.
///
/// Input is read only as results are consumed: at most `maxInFlight` chunks are published
/// and not yet yielded, so a long input keeps the broker's queue short. Stopping early
/// (leaving the loop, or dropping the iteration) abandons what is out: those messages
/// still run on the workers, and their results are dropped when they come.
public final class DistributedMapResults<Task: ProcessTask>: Sequence, IteratorProtocol, DistributedCallSink {
    private let pool: DistributedPool
    /// The input: an array is cut into slices, any other sequence read a task at a time.
    private var array: [Task]
    private var arrayIndex = 0
    private var tasks: AnyIterator<Task>?
    private let ordered: Bool
    private let chunkSize: Int
    /// Each chunk's deadline from its publish (imap), or nil.
    private let chunkTimeout: Duration?
    /// The deadline of every chunk (map), or nil.
    private let deadline: ContinuousClock.Instant?
    private let overallTimeout: Duration?
    private let maxInFlight: Int
    private let coroutine: AnyCoroutine
    /// Calls published and not yet dropped, in publish order from `head`: for imap, the
    /// ones not yet yielded; for imapUnordered, a prefix of finished ones is dropped lazily.
    private var outstanding: [DistributedCall] = []
    private var head = 0
    /// Calls published and not yet yielded.
    private var inFlight = 0
    /// imapUnordered: calls finished and not yet yielded, in completion order.
    private var finished: [DistributedCall] = []
    private var finishedHead = 0
    /// The outputs (or the failure) of the chunk being yielded.
    private var buffered: [Task.Output] = []
    private var bufferedFailure: (any Error)?
    private var bufferedCount = 0
    private var bufferedHead = 0
    private var inputDone = false
    private var waiting = false

    init<Tasks: Sequence>(pool: DistributedPool, tasks: Tasks, ordered: Bool, chunkSize: Int, chunkTimeout: Duration?,
                          deadline: ContinuousClock.Instant?, overallTimeout: Duration?, maxInFlight: Int?) throws
    where Tasks.Element == Task {
        guard chunkSize >= 1 else { throw WeaveError(.invalidArgument, "chunkSize must be at least 1, not \(chunkSize)") }
        if let maxInFlight, maxInFlight < 1 { throw WeaveError(.invalidArgument, "maxInFlight must be at least 1, not \(maxInFlight)") }
        coroutine = try AnyCoroutine.requireCurrent("DistributedPool.imap")
        self.pool = pool
        if let array = tasks as? [Task] {
            self.array = array
        } else {
            array = []
            self.tasks = AnyIterator(tasks.makeIterator())
        }
        self.ordered = ordered
        self.chunkSize = chunkSize
        self.chunkTimeout = chunkTimeout
        self.deadline = deadline
        self.overallTimeout = overallTimeout
        self.maxInFlight = maxInFlight ?? 256
    }

    deinit {
        for call in outstanding[head...] where call.outcome == nil { pool.forget(call) }
    }

    func callFinished(_ call: DistributedCall) {
        if !ordered { finished.append(call) }
        if waiting {
            waiting = false
            coroutine.hub.makeReady(coroutine)
        }
    }

    /// The next output, waiting for it; nil once every task has been answered.
    ///
    /// In input order for `imap`, arrival order for `imapUnordered`. Parks the calling
    /// coroutine while no result is in (and publishes more chunks as room frees up).
    ///
    /// - Throws: A task's error at its place; the iteration goes on, and the next call
    ///   returns the task after it. ``DistributedTaskError`` for a dead-lettered chunk,
    ///   `TimeoutError` for a chunk past its deadline. `TimeoutError` once `timeout` passes
    ///   (this call's own wait: nothing is abandoned, a later call picks up). On
    ///   `CancellationError` (or an enclosing `withTimeout` scope's expiry) what is out is
    ///   abandoned and the iteration ends.
    public func next(timeout: Duration? = nil) throws -> Task.Output? {
        try nextResult(deadline: timeout.map { ContinuousClock.now + $0 })?.get()
    }

    /// The next output or its error, for a `for` loop; nil once every task has been
    /// answered. An interruption of the iterating coroutine is the last element, as a
    /// failure.
    public func next() -> Result<Task.Output, any Error>? {
        do { return try nextResult(deadline: nil) } catch { return .failure(error) }
    }

    private func nextResult(deadline callerDeadline: ContinuousClock.Instant?) throws -> Result<Task.Output, any Error>? {
        while true {
            if bufferedHead < bufferedCount {
                defer { bufferedHead += 1 }
                if let bufferedFailure { return .failure(bufferedFailure) }
                return .success(buffered[bufferedHead])
            }
            refill()
            let call: DistributedCall
            do {
                guard let next = try nextFinishedCall(callerDeadline: callerDeadline) else { return nil }
                call = next
            } catch let error as TimeoutError where callerDeadline != nil && error.scope == nil {
                throw error
            } catch {
                inputDone = true
                abandonAll()
                return .failure(error)
            }
            bufferedHead = 0
            bufferedCount = call.count
            do {
                buffered = try EncodedTask.decodeReply(call.outcome!.get(), count: call.count, as: Task.Output.self, what: call.what)
                bufferedFailure = nil
            } catch {
                buffered = []
                bufferedFailure = error
            }
        }
    }

    /// Publishes chunks while there is input and room, then waits for their confirms. A
    /// chunk that cannot be published takes its place in line as a failure and ends the input.
    private func refill() {
        // In batches, once half the window is free: one confirm wait for many messages.
        guard !inputDone, inFlight <= maxInFlight / 2 else { return }
        let first = outstanding.count
        var chunk: [Task] = []
        while !inputDone && inFlight < maxInFlight {
            let slice: ArraySlice<Task>
            if let tasks {
                chunk.removeAll(keepingCapacity: true)
                while chunk.count < chunkSize, let task = tasks.next() { chunk.append(task) }
                if chunk.count < chunkSize { inputDone = true }
                slice = chunk[...]
            } else {
                let end = arrayIndex + Swift.min(chunkSize, array.count - arrayIndex)
                slice = array[arrayIndex..<end]
                arrayIndex = end
                if end == array.count { inputDone = true }
            }
            if slice.isEmpty { break }
            let chunkDeadline = deadline ?? chunkTimeout.map { ContinuousClock.now + $0 }
            var made: DistributedCall?
            do {
                let call = try pool.makeCall(slice, count: slice.count, deadline: chunkDeadline, timeout: overallTimeout ?? chunkTimeout)
                call.sink = self
                outstanding.append(call)
                inFlight += 1
                made = call
                try pool.start(call)
            } catch {
                inputDone = true
                // The chunk that could not be published, or (when even its call could not be
                // made: the pool is closed) one that stands for it, fails in line.
                let failed = made ?? {
                    let stand = DistributedCall(id: "0", sequence: 0, taskName: Task.taskName, count: 1, request: [],
                                                properties: .init(), deadline: nil, timeout: nil)
                    stand.sink = self
                    outstanding.append(stand)
                    inFlight += 1
                    return stand
                }()
                failed.finish(.failure(error))
            }
        }
        guard outstanding.count > first else { return }
        do {
            try pool.confirm(outstanding[first...])
        } catch {
            // Nacked or not confirmed in time: which message is unknown, so the whole batch fails.
            for call in outstanding[first...] where call.outcome == nil {
                pool.forget(call)
                call.finish(.failure(error))
            }
        }
    }

    /// The next call to yield, parking until it has finished; nil when none is left.
    private func nextFinishedCall(callerDeadline: ContinuousClock.Instant?) throws -> DistributedCall? {
        while true {
            let oldest: DistributedCall
            if ordered {
                guard head < outstanding.count else { return nil }
                let call = outstanding[head]
                if call.outcome != nil {
                    head += 1
                    inFlight -= 1
                    compact()
                    return call
                }
                oldest = call
            } else {
                if finishedHead < finished.count {
                    let call = finished[finishedHead]
                    finishedHead += 1
                    if finishedHead == finished.count {
                        finished.removeAll(keepingCapacity: true)
                        finishedHead = 0
                    }
                    inFlight -= 1
                    return call
                }
                while head < outstanding.count && outstanding[head].outcome != nil { head += 1 }
                compact()
                guard head < outstanding.count else { return nil }
                // Deadlines grow with publish order: the oldest unfinished call expires first.
                oldest = outstanding[head]
            }
            let wake = [oldest.deadline, callerDeadline].compactMap { $0 }.min()
            waiting = true
            defer { waiting = false }
            do {
                try coroutine.park(.primitive(oldest, ordered ? "imap result" : "imapUnordered next"), timeout: wake.map { $0 - .now })
            } catch let error as TimeoutError where error.scope == nil {
                if let expiry = oldest.deadline, expiry <= .now, oldest.outcome == nil {
                    pool.expire(oldest)
                    continue
                }
                if oldest.outcome != nil { continue }
                throw error
            }
        }
    }

    private func compact() {
        if head > 256 && head * 2 > outstanding.count {
            outstanding.removeFirst(head)
            head = 0
        }
    }

    private func abandonAll() {
        for call in outstanding[head...] where call.outcome == nil { pool.forget(call) }
        outstanding.removeAll()
        head = 0
        finished.removeAll()
        finishedHead = 0
        inFlight = 0
    }
}
