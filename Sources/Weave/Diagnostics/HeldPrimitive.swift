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
    func holderName(of reason: WaitReason) -> String? {
        guard case .primitive(let target, _) = reason,
              let held = target.takeUnretainedValue() as? any HeldPrimitive, held.holderID != 0 else { return nil }
        if let holder = coroutine(withID: held.holderID) { return holder.displayName }
        return "#\(held.holderID) (finished)"
    }
}
