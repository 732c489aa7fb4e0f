/// A primitive with an owner (a lock), so that reports can name who holds it.
protocol HeldPrimitive: WaitTarget {
    /// The holding coroutine's id, 0 when free.
    var holderID: UInt64 { get }
}

extension Lock: HeldPrimitive {
    var holderID: UInt64 { ownerID }
}

extension RLock: HeldPrimitive {
    var holderID: UInt64 { ownerID }
}

extension Hub {
    /// Who holds the lock `reason` waits on, if it is a held lock: `'writer'`, `#7`, or
    /// `#7 (finished)` for a holder that ended without releasing it.
    ///
    /// A report that already has every live coroutine sorted by id (``liveCoroutines()``)
    /// passes them as `live`: a binary search then finds each holder, instead of a walk
    /// per waiter.
    package func holderName(of reason: WaitReason, among live: [AnyCoroutine]? = nil) -> String? {
        guard case .primitive(let target, _) = reason,
              let held = target.takeUnretainedValue() as? any HeldPrimitive, held.holderID != 0 else { return nil }
        let holder = live.map { Hub.coroutine(withID: held.holderID, inSorted: $0) } ?? coroutine(withID: held.holderID)
        if let holder { return holder.displayName }
        return "#\(held.holderID) (finished)"
    }

    /// The coroutine with `id` in `coroutines` (sorted by id), by binary search.
    static func coroutine(withID id: UInt64, inSorted coroutines: [AnyCoroutine]) -> AnyCoroutine? {
        var low = 0, high = coroutines.count
        while low < high {
            let middle = (low + high) / 2
            if coroutines[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < coroutines.count && coroutines[low].id == id ? coroutines[low] : nil
    }
}
