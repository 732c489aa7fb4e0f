/// Makes a fixed number of coroutines wait for each other (Python's `threading.Barrier`).
///
/// Each party calls `wait`; the last to arrive releases them all and the barrier resets for
/// the next round. If a waiting party is cancelled or times out, the barrier breaks: every
/// party waiting then, and every later caller until ``reset()``, gets
/// ``SyncError/Code/brokenBarrier``, never a hang.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Barrier: WaitTarget, CustomStringConvertible {
    /// Coroutines needed to pass.
    public let parties: Int
    public let label: String?
    @exclusivity(unchecked) private var arrived = 0
    @exclusivity(unchecked) private var generation = 0
    @exclusivity(unchecked) private(set) public var isBroken = false
    @exclusivity(unchecked) private var waiters = WaitQueue()

    ///
    /// Fewer than one party is a programmer error (a precondition failure).
    public init(parties: Int, label: String? = nil) {
        precondition(parties >= 1, "Barrier\(quoted(label)) needs at least one party, not \(parties)")
        self.parties = parties
        self.label = label
    }

    /// Coroutines waiting at the barrier now.
    public var waitingCount: Int { arrived }

    /// Waits until `parties` coroutines have called `wait`. Returns the arrival index
    /// (0 for the first, `parties - 1` for the one that released the others).
    public func wait(timeout: Duration? = nil) throws -> Int {
        let coroutine = try AnyCoroutine.requireCurrent("Barrier.wait")
        if isBroken { throw brokenError() }
        let index = arrived
        arrived += 1
        if arrived == parties {
            arrived = 0
            generation += 1
            waiters.signalAll()
            return index
        }
        let myGeneration = generation
        do {
            try coroutine.wait(on: self, "wait", timeout: timeout,
                               enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
        } catch {
            // A party that leaves early breaks the round for everyone (unless it already passed).
            if generation == myGeneration && !isBroken { breakBarrier() }
            throw error
        }
        // Released rounds bump the generation; a wake without one means it broke.
        if generation == myGeneration { throw brokenError() }
        return index
    }

    /// Breaks the barrier: waiting and later parties get ``SyncError/Code/brokenBarrier``.
    public func abort() {
        breakBarrier()
    }

    /// Repairs a broken barrier for a new round (parties waiting now get the error).
    public func reset() {
        if arrived > 0 { breakBarrier() }
        isBroken = false
        arrived = 0
    }

    private func breakBarrier() {
        isBroken = true
        arrived = 0
        waiters.signalAll()
    }

    private func brokenError() -> SyncError {
        SyncError(.brokenBarrier, "Barrier\(quoted(label)) is broken: a party was cancelled, timed out or aborted")
    }

    package var waitDescription: String { "Barrier\(quoted(label)) (\(arrived) of \(parties) arrived)" }

    public var description: String { waitDescription }
}
