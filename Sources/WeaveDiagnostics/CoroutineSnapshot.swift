import WeaveCore

/// One coroutine as ``Hub/dump()`` saw it: a plain value, safe to keep, send and print.
public struct CoroutineSnapshot: Sendable, CustomStringConvertible {
    /// Where a coroutine stood when the dump was taken.
    public enum State: String, Sendable {
        /// In the run queue: not started yet, or woken and about to run.
        case ready
        /// The coroutine that took the dump.
        case running
        /// Switched out, waiting on ``CoroutineSnapshot/waitingOn``.
        case parked
    }

    /// Unique within its hub, in spawn order.
    public let id: UInt64
    /// The name given at spawn, if any.
    public let name: String?
    public let state: State
    /// What a parked coroutine waits on, described as in deadlock reports:
    /// `Queue 'jobs' (0 of 10 items) get`, `Lock 'db' (held by 'writer') acquire`,
    /// `join 'worker'`, `sleep`. Nil unless parked.
    public let waitingOn: String?
    /// For a wait on a held lock, the holder (`'writer'`, or `#7 (finished)`).
    public let heldBy: String?
    /// Time since it was spawned (millisecond resolution: the loop's cached clock).
    public let age: Duration
    /// Where it was spawned.
    public let spawnSite: SourceLocation

    /// The name in quotes, or `#id` for an unnamed coroutine.
    public var displayName: String { name.map { "'\($0)'" } ?? "#\(id)" }

    public var description: String {
        var text = "#\(id)"
        if let name { text += " '\(name)'" }
        text += " \(state.rawValue)"
        if let waitingOn { text += " on \(waitingOn)" }
        return text + ", age \(age.milliseconds) ms, spawned at \(spawnSite)"
    }
}

extension Duration {
    /// Whole milliseconds, for reports.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
