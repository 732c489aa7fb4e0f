/// The state of one `map`, `imap` or `imapUnordered` over a ``MemberSet``: which items are
/// outstanding, which finished, the first failure, and the consumer's waits.
///
/// Not generic: only taking an input item and spawning it (`spawner`) and reading a value
/// back (in ``MapResults``) know the element types, so the bookkeeping runs specialised
/// code with no generic metadata lookups. Items are held as `AnyCoroutine`.
@usableFromInline
final class MapIteration: WaitTarget {
    /// Takes the next input item and spawns it in a slot already taken (nil once the input
    /// is exhausted). Built where the types are known (inlined at the caller, so iterating
    /// the input and capturing an item run specialised code).
    @usableFromInline
    typealias Spawner = () throws -> AnyCoroutine?

    let members: MemberSet
    let ordered: Bool
    /// Most items outstanding (running, or finished and not yet returned).
    let window: Int
    let operation: StaticString
    /// Nil once the input is exhausted or the iteration stopped (which also drops what it
    /// captured: the input and the transform).
    @exclusivity(unchecked) private var spawner: Spawner?
    /// Ordered: the outstanding items in input order, from `pendingHead` (nil once returned).
    @exclusivity(unchecked) private var pending: [AnyCoroutine?] = []
    @exclusivity(unchecked) private var pendingHead = 0
    /// Unordered: the items running, and the finished ones in completion order.
    @exclusivity(unchecked) private var runningItems: [ObjectIdentifier: AnyCoroutine] = [:]
    @exclusivity(unchecked) private var completed = FIFO<AnyCoroutine>()
    /// Items whose coroutine has not finished.
    @exclusivity(unchecked) private var running = 0
    @exclusivity(unchecked) private var failure: (any Error)?
    /// Set once this iteration cancels its own items (their cancellation is no failure).
    @exclusivity(unchecked) private var cancelling = false
    @exclusivity(unchecked) private(set) var isDone = false
    @exclusivity(unchecked) private var consumers = WaitQueue()
    /// Registered on every item; holds the iteration unretained, kept alive by `keepAlive`
    /// while items run (so a dropped ``MapResults`` can still cancel and see them finish).
    @exclusivity(unchecked) private var finishHandler: ((AnyCoroutine) -> Void)?
    @exclusivity(unchecked) private var keepAlive: Unmanaged<MapIteration>?

    @usableFromInline
    init(members: MemberSet, ordered: Bool, window: Int, operation: StaticString, spawner: @escaping Spawner) {
        self.members = members
        self.ordered = ordered
        self.window = window
        self.operation = operation
        self.spawner = spawner
    }

    private var outstanding: Int {
        ordered ? pending.count - pendingHead : runningItems.count + completed.count
    }

    /// The next finished item to return (successful), waiting for it; nil once all were
    /// returned. See ``MapResults/next(timeout:)``.
    @usableFromInline
    func nextFinished(timeout: Duration?) throws -> AnyCoroutine? {
        if isDone { return nil }
        let consumer = try AnyCoroutine.requireCurrent("MapResults.next")
        if consumer.isCancelled { throw stop(consumer, CancellationError()) }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let failure { throw stop(consumer, failure) }
            if let child = takeFinished() {
                if let error = child.failure {
                    // Only an item this iteration cancelled itself gets here; report it anyway.
                    failure = error
                    continue
                }
                refill()
                return child
            }
            if running == 0 && spawner == nil {
                finish()
                return nil
            }
            refill()
            if failure != nil { continue }
            do {
                if running == 0 {
                    // No item of ours runs, so no completion will wake us: queue for a slot.
                    try members.reserve(timeout: deadline.map { $0 - .now }, operation)
                    spawnNext()
                } else {
                    try consumer.wait(on: self, operation, timeout: deadline.map { $0 - .now },
                                      enqueue: { consumers.append($0) }, dequeue: { consumers.remove($0) })
                }
            } catch let error as TimeoutError where timeout != nil && error.scope == nil {
                // This call's own deadline: the iteration is intact.
                throw error
            } catch {
                throw stop(consumer, error)
            }
        }
    }

    /// See ``MapResults/close()``.
    @usableFromInline
    func close() {
        if isDone { return }
        if let consumer = AnyCoroutine.current {
            if let interruption = drain(consumer) { AnyCoroutine.deferInterruption(interruption) }
        } else {
            cancelRunning()
        }
        finish()
    }

    /// The results object was dropped: nobody can read these results any more.
    @usableFromInline
    func abandon() {
        if isDone { return }
        cancelRunning()
        finish()
    }

    // MARK: - Items

    /// Starts items while they fit the bound and the pool has a free slot (never blocks).
    private func refill() {
        while spawner != nil, failure == nil, outstanding < window, members.tryReserve() {
            spawnNext()
        }
    }

    /// Starts the next input item in a slot already taken, or gives the slot back.
    private func spawnNext() {
        guard let spawner else {
            members.releaseSlot()
            return
        }
        let child: AnyCoroutine
        do {
            guard let spawned = try spawner() else {
                self.spawner = nil
                members.releaseSlot()
                return
            }
            child = spawned
        } catch {
            members.releaseSlot()
            if failure == nil { failure = error }
            cancelRunning()
            return
        }
        if ordered { pending.append(child) } else { runningItems[ObjectIdentifier(child)] = child }
        running += 1
        if running == 1 && keepAlive == nil { keepAlive = Unmanaged.passRetained(self) }
        members.admit(child, handler: handler)
    }

    private var handler: (AnyCoroutine) -> Void {
        if let finishHandler { return finishHandler }
        // Unretained: `keepAlive` holds the iteration while any item runs.
        let created: (AnyCoroutine) -> Void = { [unowned(unsafe) self] done in
            self.members.memberFinished(done)
            self.childFinished(done)
        }
        finishHandler = created
        return created
    }

    /// Runs on the finishing item's stack (must not block).
    private func childFinished(_ child: AnyCoroutine) {
        running -= 1
        if !isDone {
            if let error = child.failure, failure == nil, !(cancelling && error is CancellationError) {
                failure = error
                cancelRunning()
            }
            var ready = true
            if ordered {
                ready = pendingHead < pending.count && pending[pendingHead] === child
            } else {
                runningItems[ObjectIdentifier(child)] = nil
                completed.append(child)
            }
            if ready || failure != nil || cancelling { consumers.signalAll() }
        }
        if running == 0, let keepAlive {
            self.keepAlive = nil
            // Last use of `self` in this call: the iteration may be freed here.
            keepAlive.release()
        }
    }

    /// The next finished item to return, no longer outstanding; nil if none is ready.
    private func takeFinished() -> AnyCoroutine? {
        if ordered {
            guard pendingHead < pending.count, let child = pending[pendingHead], child.isFinished else { return nil }
            pending[pendingHead] = nil
            pendingHead += 1
            if pendingHead == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingHead = 0
            } else if pendingHead >= 64 && pendingHead * 2 >= pending.count {
                pending.removeFirst(pendingHead)
                pendingHead = 0
            }
            return child
        }
        return completed.popFirst()
    }

    // MARK: - Stopping

    /// Cancels the items still running and stops taking input.
    private func cancelRunning() {
        cancelling = true
        spawner = nil
        if ordered {
            for case let child? in pending[pendingHead...] where !child.isFinished { child.cancel() }
        } else {
            for child in runningItems.values { child.cancel() }
        }
    }

    /// Cancels the items still running and parks until all have finished, whatever
    /// happens; returns the interruption absorbed meanwhile, if any.
    private func drain(_ consumer: AnyCoroutine) -> (any Error)? {
        if running > 0 { cancelRunning() }
        var interruption: (any Error)?
        let waiter = consumer.waiter
        while running > 0 {
            consumers.append(waiter)
            if let error = consumer.parkUninterruptibly(.primitive(self, "cancelling items")), interruption == nil {
                interruption = error
            }
            if waiter.isQueued { consumers.remove(waiter) }
        }
        return interruption
    }

    /// Ends the iteration with `error`: drains, then returns the error to throw. An
    /// interruption absorbed while draining is kept for the caller's next blocking call.
    private func stop(_ consumer: AnyCoroutine, _ error: any Error) -> any Error {
        if let interruption = drain(consumer) { AnyCoroutine.deferInterruption(interruption) }
        finish()
        return error
    }

    private func finish() {
        isDone = true
        spawner = nil
        pending.removeAll()
        pendingHead = 0
        runningItems.removeAll()
        completed = FIFO()
    }

    var waitDescription: String { members.waitDescription }
}
