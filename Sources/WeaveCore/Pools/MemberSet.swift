/// The coroutines of a ``Group`` or a ``Pool``, with an optional bound on how many run at
/// once: membership, slots, `join` and the waits on them. Hub thread only.
///
/// A slot is taken before a member is spawned (or added) and given back when it finishes
/// or is discarded. A freed slot goes straight to the longest waiting spawner (FIFO), so a
/// coroutine arriving later cannot overtake it, and a spawner cancelled at the moment it
/// is handed one never swallows it (``WaitQueue`` skips it and serves the next).
@usableFromInline
final class MemberSet: WaitTarget {
    /// `Pool` or `Group`, for descriptions.
    let kind: StaticString
    @usableFromInline let label: String?
    /// Most slots taken at once; `Int.max` for an unbounded group.
    @usableFromInline let limit: Int
    /// Running members, by identity. Reserved up to a small bound, so spawning into a
    /// pool of modest size never grows (allocates) it.
    @exclusivity(unchecked) private(set) var members: [ObjectIdentifier: AnyCoroutine] = [:]
    /// Slots taken: members plus slots handed to spawners that have not run yet.
    @exclusivity(unchecked) private(set) var busy = 0
    @exclusivity(unchecked) private var slotWaiters = WaitQueue()
    @exclusivity(unchecked) private var availabilityWaiters = WaitQueue()
    @exclusivity(unchecked) private var joinWaiters = WaitQueue()
    /// One per `join(raiseError: true)` in progress: the first failure seen while it waits.
    @exclusivity(unchecked) private var failureRecords: [FailureRecord] = []
    /// Finish handlers registered and not yet run. While non-zero the set keeps itself
    /// alive, so the one shared handler can hold it unretained (no closure per member).
    @exclusivity(unchecked) private var pendingHandlers = 0
    @exclusivity(unchecked) private var keepAlive: Unmanaged<MemberSet>?
    /// Created once; registered on every member.
    @exclusivity(unchecked) private var finishHandler: ((AnyCoroutine) -> Void)?

    init(kind: StaticString, label: String?, limit: Int) {
        self.kind = kind
        self.label = label
        self.limit = limit
        members.reserveCapacity(min(limit, 16))
    }

    var count: Int { members.count }
    var freeCount: Int { max(0, limit - busy) }

    func contains(_ coroutine: AnyCoroutine) -> Bool {
        members[ObjectIdentifier(coroutine)] != nil
    }

    // MARK: - Slots

    /// Takes a slot if one is free and nobody queues for one; never blocks.
    @inline(__always)
    func tryReserve() -> Bool {
        // While `busy < limit` the queue is empty: `releaseSlot` empties it (handing the slot
        // over or dropping leavers) before it ever lowers `busy`.
        guard busy < limit, slotWaiters.isEmpty else { return false }
        busy += 1
        return true
    }

    /// Takes a slot, parking (FIFO) until one is handed over.
    func reserve(timeout: Duration?, _ operation: StaticString) throws {
        if tryReserve() { return }
        let coroutine = try AnyCoroutine.requireCurrent(operation)
        try coroutine.wait(on: self, operation, timeout: timeout,
                           enqueue: { slotWaiters.append($0) }, dequeue: { slotWaiters.remove($0) })
        // `releaseSlot` handed its slot to us without lowering `busy`.
    }

    /// Gives a slot back: to the longest waiting spawner if there is one, else to the pool.
    func releaseSlot() {
        if slotWaiters.signalFirst() != nil { return }
        busy -= 1
        availabilityWaiters.signalAll()
        if busy == 0 { joinWaiters.signalAll() }
    }

    /// Waits until a slot is free, without taking it. Returns the free slots then.
    func waitAvailable(timeout: Duration?) throws -> Int {
        if busy < limit { return limit - busy }
        let coroutine = try AnyCoroutine.requireCurrent("Pool.waitAvailable")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        repeat {
            try coroutine.wait(on: self, "waitAvailable", timeout: deadline.map { $0 - .now },
                               enqueue: { availabilityWaiters.append($0) },
                               dequeue: { availabilityWaiters.remove($0) })
        } while busy >= limit
        return limit - busy
    }

    // MARK: - Members

    /// The hub of the calling thread, or a ``WeaveError`` naming the operation.
    static func currentHub(_ operation: StaticString) throws(WeaveError) -> Hub {
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "\(operation) must be called on a thread that runs a hub (inside Hub.run)")
        }
        return hub
    }

    /// Records `coroutine` as a member holding a slot already taken, and arranges for it
    /// to leave (and give the slot back) when it finishes.
    func admit(_ coroutine: AnyCoroutine) {
        let handler: (AnyCoroutine) -> Void
        if let existing = finishHandler {
            handler = existing
        } else {
            // Unretained: `keepAlive` holds the set while any registration is pending.
            handler = { [unowned(unsafe) self] done in self.memberFinished(done) }
            finishHandler = handler
        }
        admit(coroutine, handler: handler)
    }

    /// Records `coroutine` as a member holding a slot already taken; `handler`, registered
    /// on it, must call ``memberFinished(_:)`` exactly once.
    func admit(_ coroutine: AnyCoroutine, handler: @escaping (AnyCoroutine) -> Void) {
        members[ObjectIdentifier(coroutine)] = coroutine
        if pendingHandlers == 0 { keepAlive = Unmanaged.passRetained(self) }
        pendingHandlers += 1
        coroutine.onFinish(handler)
    }

    /// Spawns a member into a slot already taken; gives the slot back if spawning fails.
    func spawnReserved<Value>(
        on hub: Hub, name: String?, stackSize: Int?, spawnSite: SourceLocation,
        _ body: @escaping () throws -> Value
    ) throws -> Coroutine<Value> {
        let child: Coroutine<Value>
        do {
            child = try hub.spawn(name: name, stackSize: stackSize, spawnSite: spawnSite, body)
        } catch {
            releaseSlot()
            throw error
        }
        admit(child)
        return child
    }

    /// A registered member finished: it leaves (if not discarded) and frees its slot.
    /// Runs on its stack, from its finish handler (must not block).
    func memberFinished(_ coroutine: AnyCoroutine) {
        if members.removeValue(forKey: ObjectIdentifier(coroutine)) != nil {
            if !failureRecords.isEmpty, let failure = coroutine.failure, !(failure is CancellationError) {
                for record in failureRecords where record.failure == nil { record.failure = failure }
            }
            releaseSlot()
        }
        pendingHandlers -= 1
        if pendingHandlers == 0, let keepAlive {
            self.keepAlive = nil
            // Last use of `self` in this call: the set may be freed here.
            keepAlive.release()
        }
    }

    /// Stops tracking `coroutine` (it keeps running) and frees its slot. Its finish handler
    /// stays registered and then finds it gone.
    func discard(_ coroutine: AnyCoroutine) {
        if members.removeValue(forKey: ObjectIdentifier(coroutine)) != nil { releaseSlot() }
    }

    func cancelAll() {
        // Iterates a copy: cancelling never finishes a member synchronously, but stay safe.
        for member in members.values { member.cancel() }
    }

    // MARK: - Join

    func join(timeout: Duration?, raiseError: Bool) throws {
        if busy == 0 { return }
        let coroutine = try AnyCoroutine.requireCurrent("join")
        if contains(coroutine) {
            throw WeaveError(.joinSelf, "\(coroutine.description) tried to join \(kind)\(quoted(label)), of which it is a member")
        }
        var record: FailureRecord?
        if raiseError {
            let created = FailureRecord()
            failureRecords.append(created)
            record = created
        }
        defer { if let record { failureRecords.removeAll { $0 === record } } }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while busy > 0 {
            try coroutine.wait(on: self, "join", timeout: deadline.map { $0 - .now },
                               enqueue: { joinWaiters.append($0) }, dequeue: { joinWaiters.remove($0) })
        }
        if let failure = record?.failure { throw failure }
    }

    // MARK: - Descriptions

    var waitDescription: String {
        var text = "\(kind)\(quoted(label))"
        if limit == .max {
            text += " (\(members.count) running)"
        } else {
            text += " (\(busy) of \(limit) busy)"
        }
        return text
    }

    /// The first failure a member threw while one `join(raiseError: true)` waited.
    final class FailureRecord {
        var failure: (any Error)?
    }
}
