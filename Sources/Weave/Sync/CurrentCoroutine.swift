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
        throw WeaveError(.notInCoroutine, "\(operation()) must be called from a coroutine (inside Weave.run)")
    }
    return id
}

extension Hub {
    /// The live coroutine with `id`, for reports (linear: never on a hot path).
    func coroutine(withID id: UInt64) -> AnyCoroutine? {
        liveCoroutines().first { $0.id == id }
    }
}

/// `'label'` or an empty string, for descriptions.
func quoted(_ label: String?) -> String {
    label.map { " '\($0)'" } ?? ""
}
