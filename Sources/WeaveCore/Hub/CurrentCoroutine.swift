import CWeaveContext

/// Cheap identity of the running coroutine for ownership checks: a thread-local load and
/// one field, no reference counting. 0 outside a coroutine (the hub's own context).
@inline(__always)
func currentCoroutineID() -> UInt64 {
    weave_current_fiber()?.pointee.id ?? 0
}

/// The running coroutine's id, or a ``WeaveError`` naming the operation.
@inline(__always)
func requireCoroutineID(_ operation: @autoclosure () -> String) throws(WeaveError) -> UInt64 {
    let id = currentCoroutineID()
    if id == 0 {
        throw WeaveError(.notInCoroutine, "\(operation()) must be called from a coroutine (inside Hub.run)")
    }
    return id
}

extension Hub {
    /// The live coroutine with `id`, for reports and error messages.
    ///
    /// Walks the hub's list of coroutines, which runs newest first and so in falling id
    /// order: the walk stops at `id` or past it, and only the match gets an object (a
    /// detached coroutine has none until asked). It visits the coroutines spawned after
    /// `id`, no more; nothing is allocated or sorted. (``CoroutineHandle/cancel()`` needs no
    /// lookup: the handle holds its coroutine.) An index by id would cost every spawn.
    func coroutine(withID id: UInt64) -> AnyCoroutine? {
        var fiber = sched.pointee.all_head
        while let current = fiber {
            let currentID = current.pointee.id
            if currentID == id { return current.isLiveCoroutine ? AnyCoroutine.of(current) : nil }
            if currentID < id { return nil }
            fiber = current.pointee.all_next
        }
        return nil
    }
}

/// `'label'` or an empty string, for descriptions.
package func quoted(_ label: String?) -> String {
    label.map { " '\($0)'" } ?? ""
}
