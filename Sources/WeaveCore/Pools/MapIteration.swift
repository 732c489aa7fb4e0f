/// The state of one `map`, `imap` or `imapUnordered` over a ``MemberSet``: which items are
/// outstanding, which finished, the failure that ends the results, and the consumer's waits.
///
/// Results come out in one order, input order (`imap`, `map`) or completion order
/// (`imapUnordered`), and a failure takes its place in that order, as in gevent: every
/// result before it is returned first, then it is thrown. An item's position is its input
/// index, or its rank among the items that finished. A failure at position `p` stops the
/// input and cancels the items that would come after it (their results could never be
/// returned); the items before it run on. A failure earlier in the order replaces it.
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
    /// Results returned so far: the position of the next one.
    @exclusivity(unchecked) private var delivered = 0
    /// Items spawned so far: the input index of the next one (ordered).
    @exclusivity(unchecked) private var spawnedCount = 0
    /// Items that finished without a failure, counted as they enter `completed`: the rank
    /// of the next one (unordered).
    @exclusivity(unchecked) private var ranked = 0
    /// The failure that ends the results, and its position in the output order.
    @exclusivity(unchecked) private var failure: (any Error)?
    @exclusivity(unchecked) private var failurePosition = Int.max
    /// Set once the iteration ends and cancels what still runs: outcomes no longer count.
    @exclusivity(unchecked) private var ending = false
    /// Ordered: items cancelled because they come after the failure, until they finish.
    @exclusivity(unchecked) private var cancelledAfterFailure: Set<ObjectIdentifier> = []
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
            // Every result before the failure has been returned: its turn.
            if let failure, failurePosition <= delivered { throw stop(consumer, failure) }
            if let child = takeFinished() {
                if let error = child.failure {
                    // Not recorded when it finished (cannot happen; never return it as a value).
                    recordFailure(error, at: delivered)
                    delivered += 1
                    continue
                }
                delivered += 1
                refill()
                return child
            }
            if running == 0 && spawner == nil {
                if let failure { throw stop(consumer, failure) }
                finish()
                return nil
            }
            refill()
            if failure != nil && running == 0 { continue }
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
            // In the place of the item that could not start.
            recordFailure(error, at: ordered ? spawnedCount : ranked)
            return
        }
        if ordered { pending.append(child) } else { runningItems[ObjectIdentifier(child)] = child }
        spawnedCount += 1
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
        if isDone {
            // Abandoned: nobody reads the results.
        } else if ending {
            // A consumer drains the iteration: tell it one more has unwound.
            consumers.signalAll()
        } else {
            var wake: Bool
            if ordered {
                wake = pendingHead < pending.count && pending[pendingHead] === child
                // An item this iteration cancelled sits after the failure: nothing to record
                // (and no search through the outstanding items for each of them).
                if let error = child.failure, cancelledAfterFailure.remove(ObjectIdentifier(child)) == nil,
                   let index = pending[pendingHead...].firstIndex(where: { $0 === child }) {
                    wake = recordFailure(error, at: delivered + (index - pendingHead)) || wake
                }
            } else {
                runningItems[ObjectIdentifier(child)] = nil
                if let error = child.failure {
                    wake = recordFailure(error, at: ranked)
                } else {
                    // After a failure, a result ranks behind it and is never returned.
                    completed.append(child)
                    ranked += 1
                    wake = true
                }
            }
            if wake { consumers.signalAll() }
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

    /// Makes `error` the failure at `position` of the output unless one comes before it:
    /// stops the input and cancels the items that would come after it. Returns whether it did.
    @discardableResult
    private func recordFailure(_ error: any Error, at position: Int) -> Bool {
        if failure != nil && failurePosition <= position { return false }
        failure = error
        failurePosition = position
        spawner = nil
        if ordered {
            for (offset, item) in pending[pendingHead...].enumerated() where delivered + offset > position {
                if let item, !item.isFinished, !item.isCancelled {
                    cancelledAfterFailure.insert(ObjectIdentifier(item))
                    item.cancel()
                }
            }
        } else {
            // Still running, so each would finish, and rank, after the failure.
            for child in runningItems.values { child.cancel() }
        }
        return true
    }

    /// Cancels the items still running and stops taking input: the iteration ends.
    private func cancelRunning() {
        ending = true
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
