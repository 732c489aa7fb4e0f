import Glibc

/// The stacks of one size: slabs of them, a free list, and the rule for giving memory back.
///
/// A freed stack is reused as it is, warm. Once more than `poolCapacity` stacks of this
/// size are free, slabs that are wholly free are unmapped (one syscall per slab, not per stack).
final class StackPool {
    let stackSize: Int
    let guardSize: Int
    let poolCapacity: Int
    let slabCapacity: Int
    let usesMprotect: Bool

    /// Slabs with at least one free slot; the last one is used first.
    @exclusivity(unchecked) private var available: [StackSlab] = []
    @exclusivity(unchecked) private var slabs: [ObjectIdentifier: StackSlab] = [:]
    @exclusivity(unchecked) private(set) var freeCount = 0
    @exclusivity(unchecked) private(set) var inUse = 0

    init(stackSize: Int, guardSize: Int, poolCapacity: Int, usesMprotect: Bool) {
        self.stackSize = stackSize
        self.guardSize = guardSize
        self.poolCapacity = poolCapacity
        self.usesMprotect = usesMprotect
        // Many small stacks per slab, fewer big ones: a slab spans at most 64 MiB of address space.
        self.slabCapacity = max(8, min(256, (64 << 20) / (stackSize + guardSize)))
    }

    var mappingCount: Int { slabs.values.reduce(0) { $0 + $1.mappings } }

    func allocate() throws(WeaveError) -> StackAllocator.Allocation {
        if available.isEmpty { try addSlab() }
        let slab = available[available.count - 1]
        let slot = Int(slab.freeSlots.removeLast())
        if slab.freeSlots.isEmpty { removeAvailable(slab) }
        freeCount -= 1
        inUse += 1
        return StackAllocator.Allocation(
            guardLow: slab.guardLow(slot), stackLow: slab.stackLow(slot), top: slab.top(slot),
            region: Unmanaged.passUnretained(slab).toOpaque(), slot: UInt32(slot))
    }

    /// Takes a stack back. Memory above the cap is normally given back later, by ``trim()``:
    /// unmapping here would make a workload that swings above the cap unmap and fault its
    /// stacks in again on every swing. Under mapping pressure a wholly free slab goes at once.
    func release(slab: StackSlab, slot: Int) {
        inUse -= 1
        slab.freeSlots.append(Int32(slot))
        freeCount += 1
        if slab.freeSlots.count == 1 { addAvailable(slab) }
        if MappingBudget.isUnderPressure { unmapIfSurplus(slab) }
    }

    /// Unmaps wholly free slabs while more than `poolCapacity` stacks would stay free.
    func trim() {
        guard freeCount > poolCapacity else { return }
        for slab in available { unmapIfSurplus(slab) }
    }

    /// Unmaps `slab` if it is wholly free and the stacks left free still reach the cap.
    private func unmapIfSurplus(_ slab: StackSlab) {
        guard slab.freeSlots.count == slab.count, freeCount - slab.count >= poolCapacity else { return }
        removeAvailable(slab)
        freeCount -= slab.count
        unmap(slab)
    }

    func destroy() {
        for slab in slabs.values { unmap(slab) }
        available.removeAll()
        freeCount = 0
    }

    private func addSlab() throws(WeaveError) {
        let stride = stackSize + guardSize
        let count = slabCapacity
        // With MADV_GUARD_INSTALL a slab stays one mapping; each mprotect'd guard splits it.
        let mappings = usesMprotect ? 2 * count + 1 : 1
        guard MappingBudget.reserve(mappings) else {
            throw WeaveError(.mappingBudgetExhausted,
                             "coroutine stacks would exceed Weave's share of vm.max_map_count (\(MappingBudget.limit) mappings, "
                             + "\(MappingBudget.inUse) in use)"
                             + (usesMprotect ? "; mprotect guards cost two mappings a stack" : ""))
        }
        let bytes = stride * count
        guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              base != MAP_FAILED else {
            MappingBudget.release(mappings)
            throw WeaveError(.stackAllocationFailed, "could not map \(bytes) bytes for \(count) coroutine stacks", errno: errno)
        }
        _ = madvise(base, bytes, MADV_NOHUGEPAGE)
        let slab = StackSlab(pool: self, base: base, byteCount: bytes, stride: stride, guardSize: guardSize,
                             count: count, mappings: mappings)
        for slot in 0..<count {
            if let failure = installGuard(slab.guardLow(slot)) {
                munmap(base, bytes)
                MappingBudget.release(mappings)
                throw failure
            }
        }
        slabs[ObjectIdentifier(slab)] = slab
        freeCount += count
        addAvailable(slab)
    }

    private func installGuard(_ address: UnsafeMutableRawPointer) -> WeaveError? {
        if !usesMprotect, madvise(address, guardSize, StackAllocator.madvGuardInstall) == 0 { return nil }
        if mprotect(address, guardSize, PROT_NONE) == 0 { return nil }
        return WeaveError(.stackAllocationFailed, "could not install a \(guardSize)-byte stack guard", errno: errno)
    }

    private func unmap(_ slab: StackSlab) {
        munmap(slab.base, slab.byteCount)
        MappingBudget.release(slab.mappings)
        slabs[ObjectIdentifier(slab)] = nil
    }

    private func addAvailable(_ slab: StackSlab) {
        slab.availableIndex = available.count
        available.append(slab)
    }

    private func removeAvailable(_ slab: StackSlab) {
        let index = slab.availableIndex
        guard index >= 0 else { return }
        let last = available.removeLast()
        if last !== slab {
            available[index] = last
            last.availableIndex = index
        }
        slab.availableIndex = -1
    }
}
