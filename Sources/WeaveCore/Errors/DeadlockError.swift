/// Every live coroutine is parked and nothing (no timer, no I/O, no outside work) can ever
/// wake one of them.
///
/// Thrown by `Hub.run` in place of a silent hang. ``waiters`` lists each parked
/// coroutine with what it waits on and where it was spawned.
public struct DeadlockError: Error, CustomStringConvertible, Sendable {
    /// One parked coroutine.
    public struct Waiter: Sendable, CustomStringConvertible {
        /// The coroutine's name (or `#id` when it has none).
        public let name: String
        /// What it was blocked on, such as `join 'worker'`.
        public let waitingOn: String
        /// Where it was spawned.
        public let spawnSite: SourceLocation
        /// The coroutine's id on its hub.
        public let id: UInt64
        /// For a wait on a lock (``Lock``, ``RLock``, a ``Condition`` reacquiring its lock):
        /// the coroutine holding it, such as `'writer'`, or `#7 (finished)` for a holder that
        /// ended without releasing it. Nil for other waits and for a free lock.
        public let heldBy: String?

        public var description: String { "'\(name)' waiting on \(waitingOn) (spawned at \(spawnSite))" }
    }

    /// The parked coroutines, in spawn order.
    public let waiters: [Waiter]
    /// The index of the hub that deadlocked in its ``HubGroup``; nil for a hub run alone.
    public internal(set) var hub: Int?

    public var description: String {
        var text = "deadlock\(hub.map { " on hub \($0)" } ?? ""): \(waiters.count) coroutine\(waiters.count == 1 ? " is" : "s are") parked and nothing can wake them"
        for waiter in waiters { text += "\n  - \(waiter)" }
        return text
    }
}
