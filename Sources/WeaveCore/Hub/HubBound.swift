import CWeaveContext

/// Carries an object that belongs to a hub's thread through a closure that crosses threads
/// (a job for the hub's ``RemoteQueue``, a Swift `Task`). Whoever holds it off the hub's
/// thread only passes it along: the value is touched on the hub's thread alone.
///
/// Checked, not promised (the pattern of NIO's `NIOLoopBound`): it remembers the hub it was
/// made on, and reading ``value`` on any other thread traps, naming both. That check is
/// what makes the `Sendable` conformance true; it costs a thread-local read on paths that
/// already cross threads.
package struct HubBound<Value>: @unchecked Sendable {
    private let wrapped: Value
    /// The scheduler of the hub that made it (its identity only; never dereferenced off it).
    private let owner: UnsafeMutableRawPointer

    /// Wraps `value`; must be called on the hub's thread that owns it.
    package init(_ value: Value) {
        guard let sched = weave_sched_current() else {
            preconditionFailure("HubBound<\(Value.self)> made on a thread that runs no hub")
        }
        wrapped = value
        owner = UnsafeMutableRawPointer(sched)
    }

    /// Wraps `value` for the hub `sibling` belongs to, on any thread: for an object made off
    /// the hub whose first use will be there (a job's state, built from references only).
    package init<Other>(_ value: Value, sameHubAs sibling: HubBound<Other>) {
        wrapped = value
        owner = sibling.owner
    }

    /// The value without the check, only to move the reference along (retain it, put it in
    /// a new `HubBound` or a job bound for its hub): never read or call the object here.
    package var uncheckedValue: Value { wrapped }

    /// The value; traps unless read on the thread of the hub that made it.
    package var value: Value {
        let here = weave_sched_current().map(UnsafeMutableRawPointer.init)
        if here != owner { offHub(here) }
        return wrapped
    }

    @inline(never)
    private func offHub(_ here: UnsafeMutableRawPointer?) -> Never {
        let place = here.map { "the thread of hub \($0)" } ?? "a thread that runs no hub"
        fatalError("HubBound<\(Value.self)> of hub \(owner) read on \(place): it belongs to its hub's thread")
    }
}
