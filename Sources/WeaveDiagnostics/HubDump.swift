import WeaveCore

/// Every coroutine of one hub at one moment: ``Hub/dump()``'s result.
///
/// Its ``description`` is the printable report, one line per coroutine in spawn order:
///
/// ```
/// hub dump: 3 coroutines, 41 switches
///   #1 'main' parked on join 'writer', age 12 ms, spawned at App/main.swift:3
///   #2 'writer' parked on Queue 'jobs' (1 of 1 items) put, age 12 ms, spawned at App/main.swift:5
///   #3 'reader' ready, age 0 ms, spawned at App/main.swift:9
/// ```
public struct HubDump: Sendable, CustomStringConvertible {
    /// The hub's coroutines, in spawn order (the main coroutine first).
    public let coroutines: [CoroutineSnapshot]
    /// Context switches the hub had made when the dump was taken.
    public let switchCount: UInt64

    public var description: String {
        var text = "hub dump: \(coroutines.count) coroutine\(coroutines.count == 1 ? "" : "s"), \(switchCount) switches"
        for coroutine in coroutines { text += "\n  \(coroutine)" }
        return text
    }
}
